import type { ValidationIssue } from '@datamancy/core';

/**
 * Normalizers of the compose service fields discovery reads: each takes the raw (interpolated)
 * value and its path and returns one shape, whichever of compose's spellings was used. A bad
 * value becomes an issue at its path, never an exception, so a file reports every mistake.
 */

export type DependsOnCondition =
  'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface ComposeDependency {
  condition: DependsOnCondition;
  /** `required: false`: compose starts the service without it. */
  required: boolean;
  /** The file that declared it. */
  origin: string;
}

export interface ComposePort {
  /** The port inside the container. */
  target: number;
  published?: number;
  hostIp?: string;
  protocol: string;
}

export interface ComposeHealthcheck {
  /** `['CMD', argv…]`, `['CMD-SHELL', command]` or `['NONE']`. */
  test?: string[];
  disable?: boolean;
}

export class Fields {
  readonly issues: ValidationIssue[] = [];
  issue(path: string, message: string): void {
    this.issues.push({ path, message });
  }
}

const CONDITIONS: readonly DependsOnCondition[] = [
  'service_started',
  'service_healthy',
  'service_completed_successfully',
];
const MAX_RANGE = 1024;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const scalar = (v: unknown): string | undefined =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : undefined;

export function stringField(f: Fields, value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  f.issue(path, 'expected a non-empty string');
  return undefined;
}

export function stringList(f: Fields, value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    f.issue(path, 'expected a list of strings');
    return [];
  }
  const out: string[] = [];
  value.forEach((v, i) => {
    if (typeof v === 'string' && v !== '') out.push(v);
    else f.issue(`${path}[${i}]`, 'expected a non-empty string');
  });
  return out;
}

/** `environment` and `labels`: a `KEY=value` list or a mapping. A bare `KEY` is null. */
export function keyValues(f: Fields, value: unknown, path: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (value === undefined || value === null) return out;
  if (Array.isArray(value)) {
    value.forEach((entry, i) => {
      if (typeof entry !== 'string' || entry === '' || entry.startsWith('=')) {
        f.issue(`${path}[${i}]`, 'expected "KEY=value"');
        return;
      }
      const eq = entry.indexOf('=');
      if (eq === -1) out[entry] = null;
      else out[entry.slice(0, eq)] = entry.slice(eq + 1);
    });
    return out;
  }
  if (!isObject(value)) {
    f.issue(path, 'expected a mapping or a list of "KEY=value"');
    return out;
  }
  for (const [key, v] of Object.entries(value)) {
    if (v === null) out[key] = null;
    else {
      const s = scalar(v);
      if (s === undefined) f.issue(`${path}.${key}`, 'expected a string, number or boolean');
      else out[key] = s;
    }
  }
  return out;
}

export function dependsOnField(
  f: Fields,
  value: unknown,
  path: string,
  origin: string,
): Record<string, ComposeDependency> {
  const out: Record<string, ComposeDependency> = {};
  if (value === undefined || value === null) return out;
  if (Array.isArray(value)) {
    value.forEach((name, i) => {
      if (typeof name === 'string' && name !== '')
        out[name] = { condition: 'service_started', required: true, origin };
      else f.issue(`${path}[${i}]`, 'expected a service name');
    });
    return out;
  }
  if (!isObject(value)) {
    f.issue(path, 'expected a list of service names or a mapping of name to {condition}');
    return out;
  }
  for (const [name, spec] of Object.entries(value)) {
    const at = `${path}.${name}`;
    if (spec !== null && !isObject(spec)) {
      f.issue(at, 'expected a mapping with condition, required, restart');
      continue;
    }
    const condition = spec?.condition ?? 'service_started';
    if (!CONDITIONS.includes(condition as DependsOnCondition)) {
      f.issue(`${at}.condition`, `expected one of ${CONDITIONS.join(', ')}`);
      continue;
    }
    const required = spec?.required ?? true;
    if (typeof required !== 'boolean') {
      f.issue(`${at}.required`, 'expected true or false');
      continue;
    }
    out[name] = { condition: condition as DependsOnCondition, required, origin };
  }
  return out;
}

export function healthcheckField(
  f: Fields,
  value: unknown,
  path: string,
): ComposeHealthcheck | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    f.issue(path, 'expected a mapping');
    return undefined;
  }
  const out: ComposeHealthcheck = {};
  if (value.disable !== undefined) {
    if (typeof value.disable === 'boolean') out.disable = value.disable;
    else f.issue(`${path}.disable`, 'expected true or false');
  }
  const test = value.test;
  if (typeof test === 'string') out.test = test === '' ? ['NONE'] : ['CMD-SHELL', test];
  else if (Array.isArray(test)) {
    const argv = test.map(scalar);
    if (
      argv.some((a) => a === undefined) ||
      !['CMD', 'CMD-SHELL', 'NONE'].includes(argv[0] ?? '')
    ) {
      f.issue(`${path}.test`, 'expected a string or a list starting with CMD, CMD-SHELL or NONE');
    } else out.test = argv as string[];
  } else if (test !== undefined && test !== null) {
    f.issue(`${path}.test`, 'expected a string or a list');
  }
  return out;
}

function portNumber(f: Fields, text: string, path: string): number[] {
  const range = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const from = Number(range?.[1]);
  const to = range?.[2] === undefined ? from : Number(range[2]);
  if (range === null || from < 1 || to > 65535 || to < from || to - from >= MAX_RANGE) {
    f.issue(path, `"${text}" is not a port or port range (1-65535)`);
    return [];
  }
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** `"80"`, `"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `"[::1]:8080:80"`, ranges, or the long form. */
function shortPort(f: Fields, text: string, path: string): ComposePort[] {
  const [spec = '', protocol = 'tcp'] = text.split('/');
  let hostIp: string | undefined;
  let rest = spec;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(spec);
  if (v6 !== null) {
    hostIp = v6[1];
    rest = v6[2] ?? '';
  }
  const parts = rest.split(':');
  if (
    parts.length > (hostIp === undefined ? 3 : 2) ||
    parts.some((p, i) => p === '' && i !== parts.length - 2)
  ) {
    f.issue(path, `"${text}" is not [host_ip:][published:]target[/protocol]`);
    return [];
  }
  if (parts.length === 3) hostIp = parts.shift();
  const target = portNumber(f, parts[parts.length - 1] ?? '', path);
  const publishedText = parts.length === 2 ? parts[0] : undefined;
  const published =
    publishedText === undefined || publishedText === '' ? [] : portNumber(f, publishedText, path);
  if (published.length > 1 && published.length !== target.length && target.length !== 1) {
    f.issue(path, `"${text}": published and target ranges differ in size`);
    return [];
  }
  return target.map((t, i) => ({
    target: t,
    protocol,
    ...(published.length === 0 ? {} : { published: published[i] ?? published[0] ?? 0 }),
    ...(hostIp === undefined || hostIp === '' ? {} : { hostIp }),
  }));
}

export function portsField(f: Fields, value: unknown, path: string): ComposePort[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    f.issue(path, 'expected a list');
    return [];
  }
  return value.flatMap((entry, i): ComposePort[] => {
    const at = `${path}[${i}]`;
    if (typeof entry === 'number') return shortPort(f, String(entry), at);
    if (typeof entry === 'string') return shortPort(f, entry, at);
    if (!isObject(entry)) {
      f.issue(at, 'expected a port string or a mapping with target');
      return [];
    }
    const target = scalar(entry.target);
    if (target === undefined) {
      f.issue(`${at}.target`, 'required');
      return [];
    }
    const targets = portNumber(f, target, `${at}.target`);
    const publishedText = scalar(entry.published);
    const published =
      publishedText === undefined ? [] : portNumber(f, publishedText, `${at}.published`);
    const hostIp = scalar(entry.host_ip);
    const protocol = scalar(entry.protocol) ?? 'tcp';
    return targets.map((t, n) => ({
      target: t,
      protocol,
      ...(published.length === 0 ? {} : { published: published[n] ?? published[0] ?? 0 }),
      ...(hostIp === undefined ? {} : { hostIp }),
    }));
  });
}

export function exposeField(f: Fields, value: unknown, path: string): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    f.issue(path, 'expected a list of ports');
    return [];
  }
  return value.flatMap((entry, i) => {
    const text = scalar(entry);
    if (text === undefined) {
      f.issue(`${path}[${i}]`, 'expected a port');
      return [];
    }
    return portNumber(f, text.split('/')[0] ?? '', `${path}[${i}]`);
  });
}

/** `networks`: a list of names or a mapping of name to `{aliases}` (or null). */
export function networksField(
  f: Fields,
  value: unknown,
  path: string,
): Record<string, { aliases: string[] }> {
  const out: Record<string, { aliases: string[] }> = {};
  if (value === undefined || value === null) return out;
  if (Array.isArray(value)) {
    for (const name of stringList(f, value, path)) out[name] = { aliases: [] };
    return out;
  }
  if (!isObject(value)) {
    f.issue(path, 'expected a list of network names or a mapping');
    return out;
  }
  for (const [name, spec] of Object.entries(value)) {
    if (spec === null) out[name] = { aliases: [] };
    else if (isObject(spec)) {
      out[name] = { aliases: stringList(f, spec.aliases, `${path}.${name}.aliases`) };
    } else f.issue(`${path}.${name}`, 'expected a mapping or nothing');
  }
  return out;
}
