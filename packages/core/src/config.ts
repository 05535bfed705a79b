import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { formatIssuePath, type ValidationIssue } from './errors.ts';

/**
 * Configuration loading: defaults live in the zod schema; a YAML/JSON file and the
 * environment are layered over them; `--set a.b=c` overrides come last. Parsed once at
 * start-up; on failure every invalid path is reported at once.
 */

export class ConfigError extends Error {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[], origin?: string) {
    const head =
      origin === undefined ? 'invalid configuration' : `invalid configuration (${origin})`;
    super(`${head}:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export type EnvKind = 'string' | 'int' | 'number' | 'bool' | 'list';

/** Maps an environment variable to a config path; the first variable set wins per path. */
export interface EnvBinding {
  env: string;
  path: string;
  kind?: EnvKind;
}

export type PlainObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A text file's content; a missing or unreadable file is a ConfigError naming it. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      [{ path: '(file)', message: `cannot read ${path}: ${(err as Error).message}` }],
      path,
    );
  }
}

/** Reads and parses a YAML (or JSON) file; a missing file or bad syntax is a ConfigError. */
export function readYamlFile(path: string): unknown {
  const text = readTextFile(path);
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    throw new ConfigError([
      { path: '(file)', message: `${path} is not valid YAML/JSON: ${(err as Error).message}` },
    ]);
  }
}

export function loadConfigFile(path: string): PlainObject {
  const data = readYamlFile(path);
  if (data === null || data === undefined) return {};
  if (!isPlainObject(data)) {
    throw new ConfigError([
      { path: '(root)', message: `${path} must hold a mapping at the top level` },
    ]);
  }
  return dropNulls(data);
}

/** A YAML key left empty (`section:` with its keys commented out) means "the defaults". */
function dropNulls(value: PlainObject): PlainObject {
  const out: PlainObject = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue;
    out[key] = isPlainObject(v) ? dropNulls(v) : v;
  }
  return out;
}

function convertEnv(raw: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'string':
      return raw;
    case 'int':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw.trim())) return true;
      if (/^(0|false|no|off)$/i.test(raw.trim())) return false;
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
  }
}

export function setPath(target: PlainObject, path: string, value: unknown): void {
  const keys = path.split('.');
  let node: PlainObject = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (!isPlainObject(next)) node[key] = {};
    node = node[key] as PlainObject;
  }
  node[keys[keys.length - 1] as string] = value;
}

export function deepMerge(base: PlainObject, over: PlainObject): PlainObject {
  const out: PlainObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/** Parses `key.path=value` overrides; values are read as YAML scalars (`8081` is a number). */
export function parseOverrides(pairs: readonly string[]): PlainObject {
  const out: PlainObject = {};
  const issues: ValidationIssue[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      issues.push({ path: '--set', message: `expected key.path=value, got "${pair}"` });
      continue;
    }
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = parseYaml(raw);
    } catch {
      value = raw; // not YAML: keep it as the literal string the user typed
    }
    setPath(out, pair.slice(0, eq), value);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

export interface LoadConfigOptions<S extends z.ZodType> {
  schema: S;
  /** Config file path; absent means defaults + env only. */
  file?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  bindings?: readonly EnvBinding[];
  overrides?: readonly string[];
}

export function loadConfig<S extends z.ZodType>(options: LoadConfigOptions<S>): z.output<S> {
  let input: PlainObject = options.file === undefined ? {} : loadConfigFile(options.file);
  const fromEnv: PlainObject = {};
  const envOrigin = new Map<string, string>();
  for (const binding of options.bindings ?? []) {
    const raw = options.env?.[binding.env];
    if (raw === undefined || raw === '' || envOrigin.has(binding.path)) continue;
    setPath(fromEnv, binding.path, convertEnv(raw, binding.kind ?? 'string'));
    envOrigin.set(binding.path, binding.env);
  }
  input = deepMerge(input, fromEnv);
  input = deepMerge(input, parseOverrides(options.overrides ?? []));
  const result = options.schema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => {
      const path = formatIssuePath(issue.path);
      const dotted = issue.path.map(String).join('.');
      const origin = [...envOrigin].find(([p]) => dotted === p || dotted.startsWith(`${p}.`));
      return {
        path,
        message: origin === undefined ? issue.message : `${issue.message} (set by ${origin[1]})`,
      };
    });
    throw new ConfigError(issues, options.file);
  }
  return result.data;
}
