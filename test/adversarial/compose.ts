import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The committed, rendered compose file: what a user deploys. */
export const COMPOSE_PATH = fileURLToPath(
  new URL('../../stack/docker-compose.yml', import.meta.url),
);

export interface ComposeNetwork {
  internal: boolean;
}

export interface ComposeService {
  name: string;
  networks: string[];
  /** Fixed addresses by network (`ipv4_address`). */
  addresses: Record<string, string>;
  environment: Record<string, string>;
  volumes: string[];
}

export interface ComposeFile {
  services: Map<string, ComposeService>;
  networks: Map<string, ComposeNetwork>;
}

type Raw = Record<string, unknown>;

function record(value: unknown): Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : {};
}

export function loadCompose(path = COMPOSE_PATH): ComposeFile {
  const doc = record(parse(readFileSync(path, 'utf8')));
  const services = new Map<string, ComposeService>();
  for (const [name, raw] of Object.entries(record(doc.services))) {
    const svc = record(raw);
    const nets = svc.networks;
    const networks = Array.isArray(nets) ? nets.map(String) : Object.keys(record(nets));
    const addresses: Record<string, string> = {};
    if (!Array.isArray(nets)) {
      for (const [net, spec] of Object.entries(record(nets))) {
        const address = record(spec).ipv4_address;
        if (typeof address === 'string') addresses[net] = address;
      }
    }
    const env = svc.environment;
    const environment: Record<string, string> = {};
    if (Array.isArray(env)) {
      for (const line of env.map(String)) {
        const at = line.indexOf('=');
        environment[at < 0 ? line : line.slice(0, at)] = at < 0 ? '' : line.slice(at + 1);
      }
    } else {
      for (const [k, v] of Object.entries(record(env))) environment[k] = String(v);
    }
    const volumes = (Array.isArray(svc.volumes) ? svc.volumes : []).map((v) =>
      typeof v === 'string' ? v : `${String(record(v).source)}:${String(record(v).target)}`,
    );
    services.set(name, { name, networks, addresses, environment, volumes });
  }
  const networks = new Map<string, ComposeNetwork>();
  for (const [name, raw] of Object.entries(record(doc.networks))) {
    networks.set(name, { internal: record(raw).internal === true });
  }
  return { services, networks };
}

/** Services that mount the engine's socket. */
export function socketHolders(compose: ComposeFile): ComposeService[] {
  return [...compose.services.values()].filter((s) =>
    // the host side: a path, or ${VAR:-/default/path}
    s.volumes.some((v) => /^(\$\{[^}]*\}|[^:]*)/.exec(v)?.[1]?.includes('docker.sock') === true),
  );
}

/** The services sharing at least one network with `target` (itself excluded). */
export function neighbours(compose: ComposeFile, target: ComposeService): ComposeService[] {
  return [...compose.services.values()].filter(
    (s) => s.name !== target.name && s.networks.some((n) => target.networks.includes(n)),
  );
}
