import { basename, dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, readTextFile } from '@datamancy/core';
import {
  dependsOnField,
  exposeField,
  Fields,
  healthcheckField,
  keyValues,
  networksField,
  portsField,
  stringField,
  stringList,
  type ComposeDependency,
  type ComposeHealthcheck,
  type ComposePort,
} from './compose-fields.ts';
import { interpolateTree, type Env } from './interpolate.ts';
import { readProbeLabels, type ProbeLabels } from './labels.ts';

/**
 * Compose files, as far as discovery needs them: parsed with a real YAML parser (anchors and
 * merge keys included), interpolated like compose does, normalized to one shape per field,
 * merged in order (later files override), and filtered by the active profiles.
 */

export interface ComposeService {
  name: string;
  image?: string;
  containerName?: string;
  hostname?: string;
  profiles: string[];
  dependsOn: Record<string, ComposeDependency>;
  healthcheck?: ComposeHealthcheck;
  ports: ComposePort[];
  expose: number[];
  networks: Record<string, { aliases: string[] }>;
  labels: Record<string, string>;
  /** Values of bare `KEY` entries (taken from the shell by compose) are null. */
  environment: Record<string, string | null>;
  /** Read from the labels; merged files are re-read after merging. */
  probe: ProbeLabels;
  /** The file that first defined the service. */
  origin: string;
}

export interface ComposeProject {
  /** Top-level `name`, else the directory of the first file (compose's default). */
  name: string;
  files: string[];
  /** In order of first definition. */
  services: ComposeService[];
}

export interface ComposeParseOptions {
  env: Env;
  /** Non-fatal findings: unset variables, unsupported keys. */
  warn?: (message: string) => void;
}

/** Names the probe accepts (and compose, give or take a leading `_`). */
const SERVICE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function normalizeService(
  f: Fields,
  name: string,
  raw: unknown,
  origin: string,
  warn: (message: string) => void,
): ComposeService | undefined {
  const at = `services.${name}`;
  if (!SERVICE_NAME.test(name)) {
    f.issue(at, 'service names must be letters, digits, . _ - (max 63), starting alphanumeric');
    return undefined;
  }
  if (raw === null) raw = {};
  if (!isObject(raw)) {
    f.issue(at, 'expected a mapping');
    return undefined;
  }
  if (raw.extends !== undefined) warn(`${origin}: ${at}.extends is not followed by discovery`);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(keyValues(f, raw.labels, `${at}.labels`)))
    labels[k] = v ?? '';
  const image = stringField(f, raw.image, `${at}.image`);
  const containerName = stringField(f, raw.container_name, `${at}.container_name`);
  const hostname = stringField(f, raw.hostname, `${at}.hostname`);
  const healthcheck = healthcheckField(f, raw.healthcheck, `${at}.healthcheck`);
  return {
    name,
    ...(image === undefined ? {} : { image }),
    ...(containerName === undefined ? {} : { containerName }),
    ...(hostname === undefined ? {} : { hostname }),
    profiles: stringList(f, raw.profiles, `${at}.profiles`),
    dependsOn: dependsOnField(f, raw.depends_on, `${at}.depends_on`, origin),
    ...(healthcheck === undefined ? {} : { healthcheck }),
    ports: portsField(f, raw.ports, `${at}.ports`),
    expose: exposeField(f, raw.expose, `${at}.expose`),
    networks: networksField(f, raw.networks, `${at}.networks`),
    labels,
    environment: keyValues(f, raw.environment, `${at}.environment`),
    probe: readProbeLabels(labels, at, f.issues),
    origin,
  };
}

export interface ComposeFile {
  origin: string;
  name?: string;
  services: ComposeService[];
}

/** Parses one compose document; throws ConfigError naming the file and every bad path. */
export function parseComposeFile(
  text: string,
  origin: string,
  options: ComposeParseOptions,
): ComposeFile {
  const warn = options.warn ?? (() => undefined);
  const doc = parseDocument(text, { merge: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({ path: '(file)', message: `not valid YAML: ${e.message}` })),
      origin,
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 10_000 });
  if (raw === null || raw === undefined) return { origin, services: [] };
  if (!isObject(raw)) {
    throw new ConfigError([{ path: '(root)', message: 'expected a mapping' }], origin);
  }
  const f = new Fields();
  const missing = new Map<string, string[]>();
  // compose interpolates values, not keys; `x-` extension fields are only there to be anchored
  const data = interpolateTree(
    Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-'))),
    options.env,
    {
      onMissing: (name, path) => missing.set(name, [...(missing.get(name) ?? []), path]),
      onError: (path, message) => f.issue(path, message),
    },
  ) as Record<string, unknown>;
  for (const [name, paths] of missing) {
    const more = paths.length > 1 ? ` and ${paths.length - 1} more` : '';
    warn(`${origin}: variable ${name} is not set (${paths[0] ?? ''}${more}); using ""`);
  }
  if (data.include !== undefined) warn(`${origin}: include is not followed by discovery`);
  const name = stringField(f, data.name, 'name');
  const services: ComposeService[] = [];
  if (data.services !== undefined && data.services !== null && !isObject(data.services)) {
    f.issue('services', 'expected a mapping of service name to service');
  } else {
    for (const [serviceName, spec] of Object.entries(data.services ?? {})) {
      const service = normalizeService(f, serviceName, spec, origin, warn);
      if (service !== undefined) services.push(service);
    }
  }
  if (f.issues.length > 0) throw new ConfigError(f.issues, origin);
  return { origin, ...(name === undefined ? {} : { name }), services };
}

function unique<T>(items: T[], key: (item: T) => string = String): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** compose's override rules for the fields discovery reads: maps merge, lists add up, scalars and healthcheck.test replace. */
function mergeService(base: ComposeService, over: ComposeService): ComposeService {
  const labels = { ...base.labels, ...over.labels };
  const healthcheck =
    base.healthcheck === undefined && over.healthcheck === undefined
      ? undefined
      : { ...base.healthcheck, ...over.healthcheck };
  const image = over.image ?? base.image;
  const containerName = over.containerName ?? base.containerName;
  const hostname = over.hostname ?? base.hostname;
  const probe = readProbeLabels(labels, `services.${base.name}`, []);
  return {
    name: base.name,
    ...(image === undefined ? {} : { image }),
    ...(containerName === undefined ? {} : { containerName }),
    ...(hostname === undefined ? {} : { hostname }),
    profiles: over.profiles.length > 0 ? over.profiles : base.profiles,
    dependsOn: { ...base.dependsOn, ...over.dependsOn },
    ...(healthcheck === undefined ? {} : { healthcheck }),
    ports: unique([...base.ports, ...over.ports], (p) => JSON.stringify(p)),
    expose: unique([...base.expose, ...over.expose]),
    networks: { ...base.networks, ...over.networks },
    labels,
    environment: { ...base.environment, ...over.environment },
    probe,
    origin: base.origin,
  };
}

/** Merges files in order and checks that every `depends_on` names a defined service. */
export function mergeComposeFiles(files: ComposeFile[], defaultName = 'stack'): ComposeProject {
  const byName = new Map<string, ComposeService>();
  let name: string | undefined;
  for (const file of files) {
    name = file.name ?? name;
    for (const service of file.services) {
      const base = byName.get(service.name);
      byName.set(service.name, base === undefined ? service : mergeService(base, service));
    }
  }
  const services = [...byName.values()];
  const issues = new Map<string, { path: string; message: string }[]>();
  for (const service of services) {
    for (const [dep, spec] of Object.entries(service.dependsOn)) {
      if (byName.has(dep)) continue;
      const list = issues.get(spec.origin) ?? [];
      list.push({
        path: `services.${service.name}.depends_on.${dep}`,
        message: `"${dep}" is not a service in ${files.map((f) => f.origin).join(', ')}`,
      });
      issues.set(spec.origin, list);
    }
  }
  const first = [...issues.entries()][0];
  if (first !== undefined) throw new ConfigError(first[1], first[0]);
  return {
    name: normalizeProjectName(name ?? defaultName),
    files: files.map((f) => f.origin),
    services,
  };
}

/** compose: lowercase letters, digits, dashes and underscores, starting with a letter or digit. */
export function normalizeProjectName(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '')
      .replace(/^[-_]+/, '') || 'stack'
  );
}

/** Whether a service runs with these profiles active (`*` activates all). */
export function isActive(service: ComposeService, profiles: readonly string[]): boolean {
  return (
    service.profiles.length === 0 ||
    profiles.includes('*') ||
    service.profiles.some((p) => profiles.includes(p))
  );
}

/** Reads, parses and merges compose files; the project is named like compose names it. */
export function loadComposeFiles(
  paths: readonly string[],
  options: ComposeParseOptions,
): ComposeProject {
  const files = paths.map((path) => {
    const text = readTextFile(path);
    return parseComposeFile(text, path, options);
  });
  const first = paths[0];
  return mergeComposeFiles(
    files,
    first === undefined ? 'stack' : basename(dirname(resolve(first))),
  );
}
