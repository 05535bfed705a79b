import { stringify } from 'yaml';
import { GENERATED_HEADER } from './render.ts';
import type { Catalog, CatalogService } from './schema.ts';

/**
 * The probe manifest (`stack/probe/services.yaml`): every service with the checks a user's
 * view needs — its internal HTTP endpoint (or TCP port) when the probe shares a network with it,
 * its public URL through Caddy, and its container — and its dependencies, including Authelia for everything behind single sign-on.
 */

const speaksHttp = (s: CatalogService): boolean =>
  s.healthcheck.test.some((part) => /https?:\/\//.test(part));

/** Everything the edge proxy itself needs (it cannot depend on them in turn). */
function edgeNeeds(catalog: Catalog): Set<string> {
  const byName = new Map(catalog.services.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const visit = (name: string): void => {
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (!seen.has(dep)) {
        seen.add(dep);
        visit(dep);
      }
    }
  };
  visit('caddy');
  return seen;
}

function entry(
  s: CatalogService,
  edge: Set<string>,
  probeNetworks: ReadonlySet<string>,
): Record<string, unknown> {
  const checks: Record<string, unknown>[] = [];
  // The probe connects only to what shares a network with it: the stores on `database` and a
  // socket holder on its own network are seen through their container (health included), so
  // the probe never needs a seat on their networks.
  const reachable =
    s.port !== undefined && !s.dockerSocket && s.networks.some((n) => probeNetworks.has(n));
  if (reachable && !speaksHttp(s))
    checks.push({ kind: 'tcp', name: 'port', host: s.name, port: s.port });
  checks.push({ kind: 'container', name: 'container' });
  const dependsOn = new Set(s.dependsOn);
  if (s.sso === 'forward-auth' || s.sso === 'oidc') dependsOn.add('authelia');
  // reached through the proxy: it depends on caddy, unless caddy depends on it
  if (s.hostname !== undefined && s.name !== 'caddy' && !edge.has(s.name)) dependsOn.add('caddy');
  return {
    name: s.name,
    description: s.description,
    container: s.name,
    group: s.profiles[0],
    ...(dependsOn.size === 0 ? {} : { dependsOn: [...dependsOn].sort() }),
    ...(reachable && speaksHttp(s) ? { internal: [`http://${s.name}:${String(s.port)}/`] } : {}),
    ...(s.hostname === undefined ? {} : { external: [`https://${s.hostname}.\${DOMAIN}/`] }),
    checks,
  };
}

export function renderProbeManifest(catalog: Catalog): string {
  const edge = edgeNeeds(catalog);
  const probeNetworks = new Set(catalog.services.find((s) => s.name === 'probe')?.networks ?? []);
  const services = [...catalog.services]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => entry(s, edge, probeNetworks));
  return GENERATED_HEADER + stringify({ version: 1, services }, { lineWidth: 0 });
}
