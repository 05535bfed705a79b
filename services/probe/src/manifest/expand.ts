import {
  ConfigError,
  findCycle,
  readYamlFile,
  toValidationIssues,
  type ValidationIssue,
} from '@datamancy/core';
import {
  ManifestSchema,
  type CheckOutput,
  type Manifest,
  type ServiceSpec,
  type StatusRule,
} from './schema.ts';

/**
 * From a parsed manifest document to the services the probe runs: `${DOMAIN}` substituted,
 * defaults applied, URLs of the original shape expanded into checks, every check named, and
 * cross-references (duplicate names, unknown or cyclic dependencies) checked. Errors name the
 * path, e.g. `services[3].checks[0].url`.
 */

export interface ExpandOptions {
  /** Substituted for `${DOMAIN}` in every string. */
  domain: string;
  /** Interval of services and manifests that name none (`PROBE_INTERVAL_S`). */
  defaultIntervalS: number;
  /** Named in error messages, e.g. the file path. */
  origin?: string;
}

/**
 * Well-known ports of services that have no URL: they get a TCP check on `<name>:<port>`
 * instead of failing for want of a check. Matched against the name's dash-separated parts.
 */
export const WELL_KNOWN_PORTS: Readonly<Record<string, number>> = {
  ldap: 389,
  openldap: 389,
  slapd: 389,
  redis: 6379,
  valkey: 6379,
  postgres: 5432,
  postgresql: 5432,
  pg: 5432,
  mariadb: 3306,
  mysql: 3306,
  couchdb: 5984,
  clickhouse: 8123,
  qdrant: 6333,
  memcached: 11211,
  mongo: 27017,
  mongodb: 27017,
  smtp: 25,
  imap: 143,
  nats: 4222,
};

/** How often the browser check of an external URL runs, at least (screenshots are costly). */
export const EXTERNAL_BROWSER_INTERVAL_S = 300;

export function wellKnownPort(name: string): number | undefined {
  for (const part of name.toLowerCase().split(/[-_.]/)) {
    const port = WELL_KNOWN_PORTS[part];
    if (port !== undefined) return port;
  }
  return undefined;
}

/** Replaces `${DOMAIN}` in every string of a JSON-like value. */
export function substituteDomain(value: unknown, domain: string): unknown {
  if (typeof value === 'string') return value.replaceAll('${DOMAIN}', domain);
  if (Array.isArray(value)) return value.map((v) => substituteDomain(v, domain));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteDomain(v, domain)]),
    );
  }
  return value;
}

type RawCheck = CheckOutput;

/** The Accept header of a browser's top-level navigation. */
const NAVIGATION_ACCEPT = 'text/html,application/xhtml+xml,*/*;q=0.8';

function defaultChecks(
  service: { name: string; container?: string | undefined },
  internal: readonly string[],
  external: readonly string[],
  intervalS: number,
): RawCheck[] {
  const checks: RawCheck[] = [];
  const http = (
    url: string,
    name: string,
    expectStatus: StatusRule[],
    headers: Record<string, string> = {},
  ): RawCheck => ({
    kind: 'http',
    name,
    critical: true,
    url,
    method: 'GET',
    headers,
    expectStatus,
    certMinDays: 14,
    followRedirects: false,
    insecureTls: false,
  });
  internal.forEach((url, i) => {
    // Any answer but a 5xx means the app serves: an internal root may well say 401 or 404.
    checks.push(http(url, i === 0 ? 'internal' : `internal-${i + 1}`, ['<500']));
  });
  external.forEach((url, i) => {
    const suffix = i === 0 ? '' : `-${i + 1}`;
    // Through the proxy an anonymous request is answered or sent to the SSO portal (3xx). It
    // asks as a browser navigating does (HTML first): an app's own login, and Authelia, send
    // such a request to their login page, where an API client gets 401.
    checks.push(http(url, `external${suffix}`, ['200-399'], { accept: NAVIGATION_ACCEPT }));
    checks.push({
      kind: 'browser',
      name: `page${suffix}`,
      critical: false,
      url,
      loginWall: 'pass',
      ocr: false,
      intervalS: Math.max(intervalS, EXTERNAL_BROWSER_INTERVAL_S),
    });
  });
  if (checks.length === 0) {
    const port = wellKnownPort(service.name);
    if (port !== undefined) {
      checks.push({
        kind: 'tcp',
        name: 'tcp',
        critical: true,
        host: service.container ?? service.name,
        port,
      });
    } else {
      checks.push({
        kind: 'container',
        name: 'container',
        critical: true,
        maxRestarts: 3,
        restartWindowS: 600,
      });
    }
  }
  return checks;
}

/** Parses and expands a manifest document (already read from YAML or JSON). */
export function expandManifest(document: unknown, options: ExpandOptions): Manifest {
  const parsed = ManifestSchema.safeParse(substituteDomain(document, options.domain));
  if (!parsed.success) {
    throw new ConfigError(toValidationIssues(parsed.error.issues), options.origin);
  }
  const { defaults } = parsed.data;
  const issues: ValidationIssue[] = [];
  const names = new Map<string, number>();
  const services: ServiceSpec[] = parsed.data.services.map((service, si) => {
    if (names.has(service.name)) {
      issues.push({
        path: `services[${si}].name`,
        message: `"${service.name}" is already used by services[${names.get(service.name)}]`,
      });
    }
    names.set(service.name, si);
    const intervalS = service.intervalS ?? defaults.intervalS ?? options.defaultIntervalS;
    const urls = service.internal.length + service.external.length;
    // URLs add their default checks; a service with neither URLs nor checks gets a fallback.
    const checks: RawCheck[] = [
      ...service.checks,
      ...(urls > 0 || service.checks.length === 0
        ? defaultChecks(service, service.internal, service.external, intervalS)
        : []),
    ];
    const checkNames = new Set<string>();
    const counts = new Map<string, number>();
    const named = checks.map((check, ci) => {
      let name = check.name;
      if (name === undefined) {
        const n = (counts.get(check.kind) ?? 0) + 1;
        counts.set(check.kind, n);
        name = n === 1 ? check.kind : `${check.kind}-${n}`;
        while (checkNames.has(name)) name = `${name}'`;
      }
      if (checkNames.has(name)) {
        issues.push({
          path: `services[${si}].checks[${ci}].name`,
          message: `check name "${name}" is used twice in ${service.name}`,
        });
      }
      checkNames.add(name);
      if (check.kind === 'container' && check.container === undefined) {
        // The service's container, else one named like the service.
        check = { ...check, container: service.container ?? service.name };
      }
      return {
        ...check,
        name,
        timeoutMs: check.timeoutMs ?? defaults.timeoutMs,
        retries: check.retries ?? defaults.retries,
      };
    });
    return {
      name: service.name,
      description: service.description,
      container: service.container,
      group: service.group,
      intervalS,
      thresholds: {
        failure: service.thresholds.failure ?? defaults.thresholds.failure,
        success: service.thresholds.success ?? defaults.thresholds.success,
      },
      dependsOn: service.dependsOn,
      maintenance: service.maintenance,
      checks: named,
    };
  });
  services.forEach((service, si) => {
    service.dependsOn.forEach((dep, di) => {
      if (dep === service.name) {
        issues.push({
          path: `services[${si}].dependsOn[${di}]`,
          message: 'a service cannot depend on itself',
        });
      } else if (!names.has(dep)) {
        issues.push({
          path: `services[${si}].dependsOn[${di}]`,
          message: `unknown service "${dep}"`,
        });
      }
    });
  });
  if (issues.length === 0) {
    const cycle = findDependencyCycle(services);
    if (cycle !== undefined) {
      issues.push({
        path: `services[${names.get(cycle[0] ?? '') ?? 0}].dependsOn`,
        message: `dependency cycle: ${cycle.join(' → ')}`,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues, options.origin);
  return { services };
}

/** A dependency cycle as a list of names (first repeated last), if there is one. */
export function findDependencyCycle(
  services: readonly { name: string; dependsOn: readonly string[] }[],
): string[] | undefined {
  return findCycle(new Map(services.map((s) => [s.name, s.dependsOn])));
}

/** Reads a YAML or JSON manifest file and expands it. */
export function loadManifestFile(path: string, options: Omit<ExpandOptions, 'origin'>): Manifest {
  return expandManifest(readYamlFile(path), { ...options, origin: path });
}
