import type { EdgeReason, GraphEdge } from './types.ts';
import { findCycle } from '@datamancy/core';

/**
 * Graph helpers: which services are databases, whether a value refers to one, and cycles —
 * found, reported, and broken at their weakest edge so the manifest stays acceptable to the
 * probe (which refuses cyclic dependencies).
 */

/** Database and cache kinds, matched against a service's name parts and image name parts. */
export const DATABASE_PORTS: Readonly<Record<string, number>> = {
  postgres: 5432,
  postgresql: 5432,
  postgis: 5432,
  pgvector: 5432,
  timescaledb: 5432,
  pg: 5432,
  mariadb: 3306,
  mysql: 3306,
  mongo: 27017,
  mongodb: 27017,
  redis: 6379,
  valkey: 6379,
  keydb: 6379,
  couchdb: 5984,
  clickhouse: 8123,
  qdrant: 6333,
  weaviate: 8080,
  milvus: 19530,
  memcached: 11211,
  elasticsearch: 9200,
  opensearch: 9200,
  meilisearch: 7700,
  influxdb: 8086,
  cassandra: 9042,
};

const parts = (text: string): string[] => text.toLowerCase().split(/[-_.]/);

/** `docker.io/library/postgres:16-alpine` → `postgres`; `pgvector/pgvector:pg16` → `pgvector`. */
export function imageName(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const last = withoutDigest.split('/').pop() ?? withoutDigest;
  return last.split(':')[0] ?? last;
}

/** Tools that carry a database's name but serve something else (postgres-exporter). */
const NOT_DATABASE = new Set(['exporter', 'commander', 'admin', 'ui', 'web', 'backup', 'insight']);

/**
 * The database kind of a service, by its image, else its name, with the kind's usual port.
 * `redis-commander` or `postgres-exporter` are not databases.
 */
export function databaseKind(
  name: string,
  image: string | undefined,
): { kind: string; port: number } | undefined {
  const candidates = image === undefined ? [parts(name)] : [parts(imageName(image)), parts(name)];
  for (const words of candidates) {
    if (words.some((w) => NOT_DATABASE.has(w))) return undefined;
    for (const part of words) {
      const port = DATABASE_PORTS[part];
      if (port !== undefined) return { kind: part, port };
    }
  }
  return undefined;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const HOST_KEY = /HOST|SERVER|ADDR|URL|URI|DSN|ENDPOINT/i;

/**
 * Whether an environment entry or URL points at `host`: `DB_HOST=postgres`,
 * `postgres:5432`, `postgres://u:p@postgres/db`, `redis://redis`, `host=postgres port=5432`.
 * A bare value counts only under a host-like key, so `POSTGRES_USER=postgres` does not.
 */
export function refersTo(key: string | undefined, value: string, host: string): boolean {
  const h = escape(host);
  if (key !== undefined && HOST_KEY.test(key) && value.trim().toLowerCase() === host.toLowerCase())
    return true;
  return [
    new RegExp(`(^|[\\s,;=@/])${h}:\\d+`, 'i'),
    new RegExp(`(@|//)${h}([/:?,;\\s]|$)`, 'i'),
    new RegExp(`(^|[\\s;])host=${h}([\\s;]|$)`, 'i'),
  ].some((re) => re.test(value));
}

const STRENGTH: Record<EdgeReason, number> = { sso: 0, database: 1, depends_on: 2 };

export interface CycleReport {
  cycles: string[][];
  /** `from → to` pairs left out of the manifest to break the cycles. */
  dropped: { from: string; to: string; reasons: EdgeReason[] }[];
}

/**
 * Finds cycles one at a time and breaks each at its weakest link: a link made only of `sso`
 * edges goes before a `database` one, which goes before an explicit `depends_on`; among
 * equals, the link that closes the cycle.
 */
export function breakCycles(edges: readonly GraphEdge[]): CycleReport {
  const adjacency = new Map<string, Set<string>>();
  const reasons = new Map<string, EdgeReason[]>();
  for (const e of edges) {
    if (!adjacency.has(e.from)) adjacency.set(e.from, new Set());
    adjacency.get(e.from)?.add(e.to);
    const key = `${e.from}\0${e.to}`;
    reasons.set(key, [...(reasons.get(key) ?? []), e.reason]);
  }
  const report: CycleReport = { cycles: [], dropped: [] };
  for (let guard = 0; guard <= edges.length; guard++) {
    const cycle = findCycle(adjacency);
    if (cycle === undefined) break;
    report.cycles.push(cycle);
    let weakest: { from: string; to: string; strength: number } | undefined;
    for (let i = 0; i + 1 < cycle.length; i++) {
      const from = cycle[i] ?? '';
      const to = cycle[i + 1] ?? '';
      const strength = Math.max(...(reasons.get(`${from}\0${to}`) ?? []).map((r) => STRENGTH[r]));
      if (weakest === undefined || strength <= weakest.strength) weakest = { from, to, strength };
    }
    if (weakest === undefined) break;
    adjacency.get(weakest.from)?.delete(weakest.to);
    report.dropped.push({
      from: weakest.from,
      to: weakest.to,
      reasons: reasons.get(`${weakest.from}\0${weakest.to}`) ?? [],
    });
  }
  return report;
}
