import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ValidationIssue } from '@datamancy/core';
import type { NetworkSpec } from '@datamancy/container-engine';
import { interpolateTree, type Env } from '@datamancy/stack-discovery';

/**
 * From a compose file (the rendered stack/docker-compose.yml) and its `.env` to what the
 * Engine API is asked for: networks, and per service an exact create body, its phase, its
 * dependencies and a hash of its configuration (a changed hash means recreate, as compose
 * does). `datamancy up` applies the plan; nothing here talks to an engine.
 */

export const PROJECT_LABEL = 'com.docker.compose.project';
export const SERVICE_LABEL = 'com.docker.compose.service';
export const HASH_LABEL = 'datamancy.config-hash';
export const PHASE_LABEL = 'datamancy.phase';

export interface Bind {
  source: string;
  target: string;
  readOnly: boolean;
  /** Under STACK_DATA_DIR: a data directory `volumes`/`up` create. */
  dataDir: boolean;
}

export interface PlannedService {
  name: string;
  container: string;
  phase: number;
  profiles: string[];
  dependsOn: { service: string; condition: string }[];
  image: string;
  /**
   * Project-scoped network names, the first given at create, the rest connected after; a
   * network with a fixed address comes first.
   */
  networks: string[];
  /** Fixed IPv4 addresses (compose `ipv4_address`) by project-scoped network name. */
  addresses: Record<string, string>;
  /** Names besides the service's own it answers to (compose `aliases`), by network. */
  aliases: Record<string, string[]>;
  binds: Bind[];
  hasHealthcheck: boolean;
  body: Record<string, unknown>;
  hash: string;
}

export interface StackPlan {
  project: string;
  networks: NetworkSpec[];
  /** Every service of the compose file (profiles decide which `up` starts). */
  services: PlannedService[];
}

type Json = Record<string, unknown>;

const DURATION = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Compose durations (`1m30s`, `500ms`) in nanoseconds, as the Engine API wants them. */
export function durationNs(value: unknown, path: string, issues: ValidationIssue[]): number {
  const m = typeof value === 'string' ? DURATION.exec(value) : null;
  if (m === null || value === '') {
    issues.push({ path, message: `"${String(value)}" is not a duration like 30s or 1m30s` });
    return 0;
  }
  const [h, min, s, ms] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0));
  return ((((h ?? 0) * 60 + (min ?? 0)) * 60 + (s ?? 0)) * 1000 + (ms ?? 0)) * 1e6;
}

/** `512m`, `1g`, `2048k`, `100` (bytes) in bytes. */
export function memoryBytes(value: unknown, path: string, issues: ValidationIssue[]): number {
  const m = /^(\d+)([bkmg]?)b?$/i.exec(String(value));
  if (m === null) {
    issues.push({ path, message: `"${String(value)}" is not a size like 512m or 1g` });
    return 0;
  }
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()];
  return Number(m[1]) * (unit ?? 1);
}

function stringMap(
  value: unknown,
  path: string,
  issues: ValidationIssue[],
): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((entry) => {
        const text = String(entry);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Json).map(([k, v]) => [
        k,
        v === null || typeof v === 'object' ? '' : String(v as string | number | boolean),
      ]),
    );
  }
  issues.push({ path, message: 'expected a map or a list of KEY=value' });
  return {};
}

function stringList(value: unknown, path: string, issues: ValidationIssue[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.map(String);
  issues.push({ path, message: 'expected a string or a list of strings' });
  return undefined;
}

/** `[ip:]host:container[/proto]` → the Engine API's PortBindings and ExposedPorts. */
function ports(value: unknown, path: string, issues: ValidationIssue[]) {
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const exposed: Record<string, object> = {};
  for (const [i, raw] of (Array.isArray(value) ? value : []).entries()) {
    const m = /^(?:([\d.]+|\[[0-9a-f:]+\]):)?(\d+):(\d+)(?:\/(tcp|udp))?$/i.exec(String(raw));
    if (m === null) {
      issues.push({
        path: `${path}[${String(i)}]`,
        message: `"${String(raw)}" is not [ip:]host:container[/proto]`,
      });
      continue;
    }
    const key = `${m[3] ?? ''}/${(m[4] ?? 'tcp').toLowerCase()}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({
      HostIp: m[1]?.replace(/^\[|\]$/g, '') ?? '',
      HostPort: m[2] ?? '',
    });
  }
  return { bindings, exposed };
}

function healthcheck(value: unknown, path: string, issues: ValidationIssue[]): Json | undefined {
  if (value === undefined || value === null) return undefined;
  const h = value as Json;
  if (h.disable === true) return { Test: ['NONE'] };
  const test =
    typeof h.test === 'string' ? ['CMD-SHELL', h.test] : stringList(h.test, `${path}.test`, issues);
  if (test === undefined || test.length === 0) {
    issues.push({ path: `${path}.test`, message: 'a healthcheck needs a test' });
    return undefined;
  }
  const out: Json = { Test: test };
  if (h.interval !== undefined) out.Interval = durationNs(h.interval, `${path}.interval`, issues);
  if (h.timeout !== undefined) out.Timeout = durationNs(h.timeout, `${path}.timeout`, issues);
  if (h.start_period !== undefined)
    out.StartPeriod = durationNs(h.start_period, `${path}.start_period`, issues);
  if (h.retries !== undefined) out.Retries = Number(h.retries);
  return out;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value as Json)
      .sort()
      .map((k) => [k, sortKeys((value as Json)[k])]),
  );
}

export interface PlanOptions {
  /** Directory relative bind sources resolve against (the compose file's). */
  stackDir: string;
  env: Env;
  /** Project name; default COMPOSE_PROJECT_NAME, else "datamancy". */
  project?: string;
  origin?: string;
  /** Images run in place of the compose file's (stand-ins built here), by the file's image. */
  images?: Readonly<Record<string, string>>;
}

const KNOWN_KEYS = new Set([
  'image',
  'container_name',
  'command',
  'entrypoint',
  'user',
  'environment',
  'ports',
  'networks',
  'volumes',
  'healthcheck',
  'restart',
  'deploy',
  'labels',
  'depends_on',
  'profiles',
  'working_dir',
  'init',
]);

export function planStack(composeText: string, options: PlanOptions): StackPlan {
  const origin = options.origin ?? 'docker-compose.yml';
  const issues: ValidationIssue[] = [];
  const raw = parseYaml(composeText) as Json | null;
  const doc = interpolateTree(raw, options.env, {
    onMissing: (name, path) =>
      issues.push({ path, message: `\${${name}} is not set (run datamancy init)` }),
    onError: (path, message) => issues.push({ path, message }),
  }) as Json;
  const project = (
    options.project ??
    options.env.COMPOSE_PROJECT_NAME ??
    'datamancy'
  ).toLowerCase();
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project))
    issues.push({ path: 'COMPOSE_PROJECT_NAME', message: `"${project}" is not a project name` });
  const scoped = (network: string): string => `${project}_${network}`;
  const networks: NetworkSpec[] = Object.entries(
    (doc.networks ?? {}) as Record<string, Json | null>,
  ).map(([name, n]) => {
    const ipam = (n?.ipam as { config?: { subnet?: string; ip_range?: string }[] } | undefined)
      ?.config?.[0];
    const subnet = ipam?.subnet;
    const ipRange = ipam?.ip_range;
    if (ipRange !== undefined && subnet === undefined)
      issues.push({ path: `networks.${name}.ipam`, message: 'an ip_range needs its subnet' });
    return {
      name: scoped(name),
      internal: n?.internal === true,
      ...(subnet === undefined ? {} : { subnet }),
      ...(ipRange === undefined ? {} : { ipRange }),
      labels: { [PROJECT_LABEL]: project, 'com.docker.compose.network': name },
    };
  });
  const services: PlannedService[] = [];
  for (const [name, value] of Object.entries((doc.services ?? {}) as Record<string, Json>)) {
    const path = `services.${name}`;
    for (const key of Object.keys(value)) {
      if (!KNOWN_KEYS.has(key))
        issues.push({
          path: `${path}.${key}`,
          message: 'not supported by datamancy up (use docker compose)',
        });
    }
    if (typeof value.image !== 'string') {
      issues.push({ path: `${path}.image`, message: 'every service needs an image' });
      continue;
    }
    const image = options.images?.[value.image] ?? value.image;
    if (value.init !== undefined && typeof value.init !== 'boolean')
      issues.push({ path: `${path}.init`, message: 'expected true or false' });
    const container =
      typeof value.container_name === 'string' ? value.container_name : `${project}-${name}-1`;
    const labels = stringMap(value.labels, `${path}.labels`, issues);
    const phase = Number(labels[PHASE_LABEL] ?? 0);
    const netMap: Record<string, Json | null> = Array.isArray(value.networks)
      ? Object.fromEntries(value.networks.map((n) => [String(n), null]))
      : ((value.networks ?? {}) as Record<string, Json | null>);
    const addresses: Record<string, string> = {};
    const aliases: Record<string, string[]> = {};
    for (const [n, spec] of Object.entries(netMap)) {
      const network = networks.find((x) => x.name === scoped(n));
      if (network === undefined) {
        issues.push({ path: `${path}.networks`, message: `unknown network "${n}"` });
        continue;
      }
      const extra = spec?.aliases;
      if (extra !== undefined) {
        if (
          !Array.isArray(extra) ||
          !extra.every((a: unknown) => typeof a === 'string' && a !== '')
        )
          issues.push({
            path: `${path}.networks.${n}.aliases`,
            message: 'expected a list of host names',
          });
        else aliases[scoped(n)] = extra.map(String);
      }
      const address = spec?.ipv4_address;
      if (address === undefined) continue;
      if (typeof address !== 'string' || !/^(\d{1,3}\.){3}\d{1,3}$/.test(address))
        issues.push({
          path: `${path}.networks.${n}.ipv4_address`,
          message: `${JSON.stringify(address)} is not an IPv4 address`,
        });
      else if (network.subnet === undefined)
        issues.push({
          path: `${path}.networks.${n}.ipv4_address`,
          message: `a fixed address needs a subnet on network "${n}"`,
        });
      else addresses[scoped(n)] = address;
    }
    // networks with a fixed address first (the create request carries the first's address),
    // the rest in their written order
    const netList = Object.keys(netMap).sort(
      (a, b) => Number(scoped(b) in addresses) - Number(scoped(a) in addresses),
    );
    const serviceNetworks = (netList.length === 0 ? ['default'] : netList).map(scoped);
    if (netList.length === 0 && !networks.some((x) => x.name === scoped('default')))
      networks.push({
        name: scoped('default'),
        internal: false,
        labels: { [PROJECT_LABEL]: project, 'com.docker.compose.network': 'default' },
      });
    const binds: Bind[] = [];
    const dataRoot =
      options.env.STACK_DATA_DIR === undefined
        ? undefined
        : resolve(options.stackDir, options.env.STACK_DATA_DIR);
    for (const [i, spec] of (Array.isArray(value.volumes) ? value.volumes : []).entries()) {
      const parts = String(spec).split(':');
      const [source = '', target = '', mode] = parts;
      if (
        parts.length < 2 ||
        parts.length > 3 ||
        !target.startsWith('/') ||
        (mode !== undefined && mode !== 'ro' && mode !== 'rw')
      ) {
        issues.push({
          path: `${path}.volumes[${String(i)}]`,
          message: `"${String(spec)}" is not source:/target[:ro]`,
        });
        continue;
      }
      if (!source.startsWith('.') && !isAbsolute(source)) {
        issues.push({
          path: `${path}.volumes[${String(i)}]`,
          message: 'named volumes are not supported; use a bind mount under STACK_DATA_DIR',
        });
        continue;
      }
      const abs = resolve(options.stackDir, source);
      binds.push({
        source: abs,
        target,
        readOnly: mode === 'ro',
        dataDir: dataRoot !== undefined && abs.startsWith(`${dataRoot}/`),
      });
    }
    const dependsOn = Array.isArray(value.depends_on)
      ? value.depends_on.map((d) => ({ service: String(d), condition: 'service_started' }))
      : Object.entries(
          (value.depends_on ?? {}) as Record<string, { condition?: string } | null>,
        ).map(([service, d]) => ({ service, condition: d?.condition ?? 'service_started' }));
    const { bindings, exposed } = ports(value.ports, `${path}.ports`, issues);
    const hc = healthcheck(value.healthcheck, `${path}.healthcheck`, issues);
    const deploy = (value.deploy ?? {}) as {
      resources?: {
        limits?: { memory?: unknown };
        reservations?: { devices?: { driver?: string; count?: number; capabilities?: string[] }[] };
      };
    };
    const env = stringMap(value.environment, `${path}.environment`, issues);
    const restart = typeof value.restart === 'string' ? value.restart : 'no';
    const body: Json = {
      Image: image,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: {
        ...labels,
        [PROJECT_LABEL]: project,
        [SERVICE_LABEL]: name,
        'com.docker.compose.container-number': '1',
        'com.docker.compose.oneoff': 'False',
        'com.docker.compose.depends_on': dependsOn
          .map((d) => `${d.service}:${d.condition}:false`)
          .join(','),
      },
      ExposedPorts: exposed,
      HostConfig: {
        Binds: binds.map((b) => `${b.source}:${b.target}${b.readOnly ? ':ro' : ''}`),
        PortBindings: bindings,
        RestartPolicy: {
          Name: restart === 'no' ? '' : restart.replace(/:.*/, ''),
          ...(restart.startsWith('on-failure:')
            ? { MaximumRetryCount: Number(restart.split(':')[1]) }
            : {}),
        },
        NetworkMode: serviceNetworks[0],
        ...(value.init === true ? { Init: true } : {}),
        ...(deploy.resources?.limits?.memory === undefined
          ? {}
          : {
              Memory: memoryBytes(
                deploy.resources.limits.memory,
                `${path}.deploy.resources.limits.memory`,
                issues,
              ),
            }),
        ...(deploy.resources?.reservations?.devices === undefined
          ? {}
          : {
              DeviceRequests: deploy.resources.reservations.devices.map((d) => ({
                Driver: d.driver ?? '',
                Count: d.count ?? -1,
                Capabilities: [d.capabilities ?? []],
              })),
            }),
      },
      NetworkingConfig: {
        EndpointsConfig: {
          [serviceNetworks[0] ?? '']: {
            Aliases: [name, ...(aliases[serviceNetworks[0] ?? ''] ?? [])],
            ...(addresses[serviceNetworks[0] ?? ''] === undefined
              ? {}
              : { IPAMConfig: { IPv4Address: addresses[serviceNetworks[0] ?? ''] } }),
          },
        },
      },
    };
    const cmd = stringList(value.command, `${path}.command`, issues);
    if (cmd !== undefined) body.Cmd = cmd;
    const entrypoint = stringList(value.entrypoint, `${path}.entrypoint`, issues);
    if (entrypoint !== undefined) body.Entrypoint = entrypoint;
    if (typeof value.user === 'string') body.User = value.user;
    if (typeof value.working_dir === 'string') body.WorkingDir = value.working_dir;
    if (hc !== undefined) body.Healthcheck = hc;
    const hash = createHash('sha256')
      .update(
        JSON.stringify(
          sortKeys({
            body,
            networks: serviceNetworks,
            // only when set, so services without a fixed address keep their hash
            ...(Object.keys(addresses).length > 0 ? { addresses } : {}),
            ...(Object.keys(aliases).length > 0 ? { aliases } : {}),
          }),
        ),
      )
      .digest('hex')
      .slice(0, 16);
    (body.Labels as Record<string, string>)[HASH_LABEL] = hash;
    services.push({
      name,
      container,
      phase: Number.isFinite(phase) ? phase : 0,
      profiles: stringList(value.profiles, `${path}.profiles`, issues) ?? [],
      dependsOn,
      image,
      networks: serviceNetworks,
      addresses,
      aliases,
      binds,
      hasHealthcheck: hc !== undefined && (hc.Test as string[])[0] !== 'NONE',
      body,
      hash,
    });
  }
  for (const s of services) {
    for (const d of s.dependsOn) {
      if (!services.some((x) => x.name === d.service))
        issues.push({
          path: `services.${s.name}.depends_on`,
          message: `unknown service "${d.service}"`,
        });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues, origin);
  return { project, networks, services };
}

/** The services `up` starts for these profiles (a service without profiles always starts). */
export function selectServices(plan: StackPlan, profiles: readonly string[]): PlannedService[] {
  return plan.services.filter(
    (s) => s.profiles.length === 0 || s.profiles.some((p) => profiles.includes(p)),
  );
}

/**
 * Start order: by phase, and within a phase after every dependency (a dependency outside the
 * selection is an error the caller reports). Returns the phases in order.
 */
export function phases(services: readonly PlannedService[]): PlannedService[][] {
  const byPhase = new Map<number, PlannedService[]>();
  for (const s of services) byPhase.set(s.phase, [...(byPhase.get(s.phase) ?? []), s]);
  return [...byPhase.keys()]
    .sort((a, b) => a - b)
    .map((p) => (byPhase.get(p) ?? []).sort((a, b) => a.name.localeCompare(b.name)));
}
