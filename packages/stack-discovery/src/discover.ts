import type { ValidationIssue } from '@datamancy/core';
import { isActive, type ComposeProject, type ComposeService } from './compose.ts';
import type { CaddyRoutes, Upstream } from './caddyfile.ts';
import type { EngineSnapshot, LiveContainer } from './engine.ts';
import { breakCycles, databaseKind, refersTo } from './graph.ts';
import { healthcheckToCheck } from './healthcheck.ts';
import { readProbeLabels } from './labels.ts';
import type {
  DiscoveryResult,
  EdgeReason,
  GraphEdge,
  ManifestCheck,
  ManifestService,
  Source,
} from './types.ts';

/**
 * Combines the three sources into one manifest and one graph. Pure: the sources are read
 * elsewhere (`load.ts`), so every rule here is tested on plain data.
 *
 * - compose gives the services (active profiles only), their containers, groups, probe labels,
 *   healthcheck-derived checks and `depends_on` edges;
 * - the Caddyfile gives external URLs and, behind `forward_auth`, `sso` edges to the identity
 *   service and everything it depends on in compose;
 * - the engine names the containers and adds running containers compose does not know;
 * - environment values and URLs pointing at a database service give `database` edges.
 */

export interface DiscoveryInputs {
  compose?: ComposeProject;
  caddy?: CaddyRoutes;
  engine?: EngineSnapshot;
  /** Active compose profiles; `*` activates all. Services without profiles always count. */
  profiles?: readonly string[];
  /** The stack's public domain: URLs on it are written with `${DOMAIN}`. */
  domain?: string;
}

interface Entry {
  name: string;
  sources: Set<Source>;
  container?: string;
  group?: string;
  description?: string;
  internal: string[];
  external: string[];
  checks: ManifestCheck[];
  manage: boolean;
  compose?: ComposeService;
  /** Names of the services whose forward_auth guards one of its routes. */
  guardedBy: Set<string>;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', 'host.docker.internal', '0.0.0.0']);
const SOURCE_ORDER: readonly Source[] = ['compose', 'caddy', 'engine'];

/** A name the probe accepts, made from a container or host name. */
function toServiceName(raw: string): string {
  const name = raw
    .replace(/[^a-z0-9._-]/gi, '-')
    .replace(/^[^a-z0-9]+/i, '')
    .slice(0, 63);
  return name === '' ? 'container' : name;
}

/** `https://grafana.example.org/x` → `https://grafana.${DOMAIN}/x` when the domain is example.org. */
export function templateDomain(url: string, domain: string | undefined): string {
  if (domain === undefined || domain === '') return url;
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/:?#]+)(.*)$/i.exec(url);
  if (match === null) return url;
  const host = (match[2] ?? '').toLowerCase();
  const d = domain.toLowerCase();
  if (host === d) return `${match[1]}\${DOMAIN}${match[3]}`;
  if (host.endsWith(`.${d}`)) return `${match[1]}${host.slice(0, -d.length)}\${DOMAIN}${match[3]}`;
  return url;
}

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

class Builder {
  readonly entries = new Map<string, Entry>();
  readonly warnings: string[] = [];
  readonly edges: GraphEdge[] = [];
  /** Hostnames (service, container_name, hostname, aliases, container) → entry name. */
  readonly hosts = new Map<string, string>();
  readonly inactive = new Set<string>();
  readonly jobs = new Set<string>();
  /** compose `depends_on` labels of engine-only containers, resolved once all are known. */
  readonly engineDeps: { from: string; to: string }[] = [];

  add(entry: Entry, hostnames: readonly (string | undefined)[]): void {
    this.entries.set(entry.name, entry);
    for (const h of [entry.name, ...hostnames])
      if (h !== undefined && !this.hosts.has(h.toLowerCase()))
        this.hosts.set(h.toLowerCase(), entry.name);
  }

  edge(from: string, to: string, reason: EdgeReason, condition?: string): void {
    if (from === to) return;
    if (this.edges.some((e) => e.from === from && e.to === to && e.reason === reason)) return;
    this.edges.push({ from, to, reason, ...(condition === undefined ? {} : { condition }) });
  }

  /** The entry an upstream reaches: by host name, or by a port published on the host. */
  resolve(upstream: Upstream): Entry | undefined {
    const byName = this.hosts.get(upstream.host);
    if (byName !== undefined) return this.entries.get(byName);
    if (!LOOPBACK.has(upstream.host) || upstream.port === undefined) return undefined;
    for (const entry of this.entries.values()) {
      if (entry.compose?.ports.some((p) => p.published === upstream.port) === true) return entry;
    }
    return undefined;
  }
}

function composeEntries(b: Builder, project: ComposeProject, inputs: DiscoveryInputs): void {
  const profiles = inputs.profiles ?? [];
  for (const s of project.services) {
    if (!isActive(s, profiles)) b.inactive.add(s.name);
    for (const [dep, spec] of Object.entries(s.dependsOn))
      if (spec.condition === 'service_completed_successfully') b.jobs.add(dep);
  }
  for (const job of b.jobs) {
    if (!b.inactive.has(job))
      b.warnings.push(`${job} runs to completion (service_completed_successfully); not probed`);
  }
  for (const s of project.services) {
    if (b.inactive.has(s.name) || b.jobs.has(s.name)) continue;
    const entry: Entry = {
      name: s.name,
      sources: new Set(['compose']),
      container: s.containerName ?? `${project.name}-${s.name}-1`,
      internal: [...s.probe.urls],
      external: [...s.probe.external],
      checks: [],
      manage: s.probe.manage,
      compose: s,
      guardedBy: new Set(),
    };
    const group = s.probe.group ?? s.profiles[0];
    if (group !== undefined) entry.group = group;
    if (s.probe.path !== undefined) {
      const port = s.expose[0] ?? s.ports[0]?.target;
      if (port === undefined) {
        b.warnings.push(
          `${s.name}: datamancy.probe.path is set but the service has no ports or expose; ignored`,
        );
      } else entry.internal.push(`http://${s.name}:${port}${s.probe.path}`);
    }
    const derived = healthcheckToCheck(s.healthcheck, s.name);
    if (derived !== undefined) entry.checks.push(derived);
    b.add(entry, [
      s.containerName,
      s.hostname,
      ...Object.values(s.networks).flatMap((n) => n.aliases),
    ]);
  }
}

/** Matches compose services to live containers and adds the running ones compose lacks. */
function engineEntries(b: Builder, engine: EngineSnapshot, project: string | undefined): void {
  const claimed = new Set<LiveContainer>();
  const composeNames = [...b.entries.values()].filter((e) => e.compose !== undefined);
  for (const entry of composeNames) {
    const candidates = engine.containers.filter(
      (c) =>
        !claimed.has(c) &&
        (c.compose.service === entry.name || c.name === entry.compose?.containerName),
    );
    const live =
      candidates.find((c) => c.compose.project === project && c.state === 'running') ??
      candidates.find((c) => c.compose.project === project) ??
      candidates.find((c) => c.state === 'running') ??
      candidates[0];
    if (live === undefined) {
      b.warnings.push(`${entry.name}: no container in the engine (${engine.endpoint})`);
      continue;
    }
    claimed.add(live);
    entry.container = live.name;
    entry.sources.add('engine');
    b.hosts.set(live.name.toLowerCase(), entry.name);
    if (live.state !== 'running')
      b.warnings.push(`${entry.name}: container ${live.name} is ${live.state}`);
    if (
      live.compose.project !== undefined &&
      project !== undefined &&
      live.compose.project !== project
    ) {
      b.warnings.push(
        `${entry.name}: container ${live.name} belongs to compose project ${live.compose.project}, not ${project}`,
      );
    }
  }
  for (const c of engine.containers) {
    if (claimed.has(c) || c.state !== 'running') continue;
    const service = c.compose.service;
    if (service !== undefined && (b.inactive.has(service) || b.jobs.has(service))) {
      if (b.inactive.has(service))
        b.warnings.push(
          `container ${c.name} runs ${service}, whose profile is not active; skipped`,
        );
      continue;
    }
    let name = toServiceName(service ?? c.name);
    if (b.entries.has(name)) name = toServiceName(c.name);
    for (let n = 2; b.entries.has(name); n++) name = `${toServiceName(c.name).slice(0, 60)}-${n}`;
    const issues: ValidationIssue[] = [];
    const labels = readProbeLabels(c.labels, `container ${c.name}`, issues);
    for (const issue of issues) b.warnings.push(`${issue.path}: ${issue.message}; ignored`);
    const entry: Entry = {
      name,
      sources: new Set(['engine']),
      container: c.name,
      internal: labels.urls,
      external: labels.external,
      checks: [{ kind: 'container' }],
      manage: labels.manage,
      guardedBy: new Set(),
    };
    if (labels.group !== undefined) entry.group = labels.group;
    b.add(entry, [c.name, service]);
    for (const dep of c.compose.dependsOn) b.engineDeps.push({ from: name, to: dep });
  }
}

function caddyRoutes(b: Builder, caddy: CaddyRoutes): void {
  const resolveOrCreate = (upstream: Upstream, line: number, what: string): Entry | undefined => {
    const found = b.resolve(upstream);
    if (found !== undefined) return found;
    const where = `${caddy.origin}:${line}`;
    if (b.inactive.has(upstream.host)) {
      b.warnings.push(`${where}: ${what} ${upstream.host} is in an inactive profile; skipped`);
      return undefined;
    }
    if (LOOPBACK.has(upstream.host) || /^[\d.]+$|^\[/.test(upstream.host)) {
      b.warnings.push(`${where}: ${what} ${upstream.host} is not a service name; skipped`);
      return undefined;
    }
    b.warnings.push(
      `${where}: ${what} ${upstream.host} is no compose service or container; added from the Caddyfile alone`,
    );
    const entry: Entry = {
      name: toServiceName(upstream.host),
      sources: new Set(),
      internal: [],
      external: [],
      checks: [],
      manage: true,
      guardedBy: new Set(),
    };
    b.add(entry, [upstream.host]);
    return entry;
  };
  for (const route of caddy.routes) {
    const target = resolveOrCreate(route.upstream, route.line, 'upstream');
    if (target === undefined) continue;
    target.sources.add('caddy');
    target.external.push(...route.urls);
    if (route.auth !== undefined) {
      const auth = resolveOrCreate(route.auth, route.line, 'forward_auth upstream');
      if (auth !== undefined && auth !== target) target.guardedBy.add(auth.name);
    }
  }
}

function composeEdges(b: Builder): void {
  for (const entry of b.entries.values()) {
    for (const [dep, spec] of Object.entries(entry.compose?.dependsOn ?? {})) {
      if (b.jobs.has(dep)) continue;
      if (b.inactive.has(dep)) {
        if (spec.required)
          b.warnings.push(`${entry.name} depends on ${dep}, whose profile is not active`);
        continue;
      }
      b.edge(entry.name, dep, 'depends_on', spec.condition);
    }
  }
  for (const { from, to } of b.engineDeps) {
    const target = b.hosts.get(to.toLowerCase());
    if (target !== undefined) b.edge(from, target, 'depends_on');
  }
}

function databaseEdges(b: Builder): void {
  const databases = [...b.entries.values()].flatMap((e) => {
    const kind = databaseKind(e.name, e.compose?.image);
    if (kind === undefined) return [];
    const hosts = [...b.hosts.entries()].filter(([, n]) => n === e.name).map(([h]) => h);
    return [{ name: e.name, hosts }];
  });
  for (const entry of b.entries.values()) {
    const values: [string | undefined, string][] = [
      ...Object.entries(entry.compose?.environment ?? {}).flatMap(([k, v]): [string, string][] =>
        v === null ? [] : [[k, v]],
      ),
      ...entry.internal.map((u): [undefined, string] => [undefined, u]),
    ];
    for (const db of databases) {
      if (db.name === entry.name) continue;
      if (values.some(([k, v]) => db.hosts.some((h) => refersTo(k, v, h))))
        b.edge(entry.name, db.name, 'database');
    }
  }
}

/** The identity service and everything it needs through compose `depends_on`, transitively. */
function identityClosure(b: Builder, root: string): string[] {
  const out: string[] = [];
  const visit = (name: string): void => {
    if (out.includes(name) || !b.entries.has(name)) return;
    out.push(name);
    for (const e of b.edges) if (e.from === name && e.reason === 'depends_on') visit(e.to);
  };
  visit(root);
  return out;
}

function ssoEdges(b: Builder): void {
  for (const entry of b.entries.values()) {
    for (const root of entry.guardedBy) {
      const identity = identityClosure(b, root);
      if (identity.includes(entry.name)) continue;
      for (const id of identity) b.edge(entry.name, id, 'sso');
    }
  }
}

/** Builds the manifest and the dependency graph from whichever sources are given. */
export function buildDiscovery(inputs: DiscoveryInputs): DiscoveryResult {
  const b = new Builder();
  if (inputs.compose !== undefined) composeEntries(b, inputs.compose, inputs);
  if (inputs.engine !== undefined) engineEntries(b, inputs.engine, inputs.compose?.name);
  if (inputs.caddy !== undefined) caddyRoutes(b, inputs.caddy);
  composeEdges(b);
  databaseEdges(b);
  ssoEdges(b);
  // edges in service order, and within a service depends_on, database, sso
  const order = [...b.entries.keys()];
  const rank: Record<EdgeReason, number> = { depends_on: 0, database: 1, sso: 2 };
  const edges = [...b.edges].sort(
    (x, y) => order.indexOf(x.from) - order.indexOf(y.from) || rank[x.reason] - rank[y.reason],
  );
  const report = breakCycles(edges);
  report.cycles.forEach((cycle, i) => {
    const d = report.dropped[i];
    b.warnings.push(
      `dependency cycle: ${cycle.join(' → ')}${d === undefined ? '' : `; ${d.from} → ${d.to} (${d.reasons.join(', ')}) left out of the manifest`}`,
    );
  });
  const dropped = new Set(report.dropped.map((d) => `${d.from}\0${d.to}`));
  const domain = inputs.domain;
  const services: ManifestService[] = [...b.entries.values()].map((e) => {
    const checks = e.checks.map((c) =>
      c.kind === 'http' || c.kind === 'browser' ? { ...c, url: templateDomain(c.url, domain) } : c,
    );
    const internal = unique(e.internal.map((u) => templateDomain(u, domain)));
    const external = unique(e.external.map((u) => templateDomain(u, domain)));
    if (internal.length + external.length + checks.length === 0) {
      // the probe would fall back to a container check; a database answers on its port
      const db = databaseKind(e.name, e.compose?.image);
      if (db !== undefined) checks.push({ kind: 'tcp', host: e.name, port: db.port });
    }
    return {
      name: e.name,
      ...(e.manage ? {} : { description: 'not managed by datamancy (datamancy.manage=false)' }),
      ...(e.container === undefined ? {} : { container: e.container }),
      ...(e.group === undefined ? {} : { group: e.group }),
      dependsOn: unique(
        edges
          .filter((x) => x.from === e.name && !dropped.has(`${x.from}\0${x.to}`))
          .map((x) => x.to),
      ),
      internal,
      external,
      checks,
    };
  });
  return {
    manifest: { version: 1, defaults: {}, services },
    graph: {
      nodes: [...b.entries.values()].map((e) => ({
        name: e.name,
        sources: SOURCE_ORDER.filter((s) => e.sources.has(s)),
        ...(e.manage ? {} : { manage: false as const }),
      })),
      edges,
      cycles: report.cycles,
    },
    warnings: b.warnings,
  };
}
