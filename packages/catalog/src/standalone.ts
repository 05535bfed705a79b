import type { ValidationIssue } from '@datamancy/core';
import { checkNetworkPolicy } from './network-policy.ts';
import {
  STANDALONE_PROFILES,
  type Catalog,
  type CatalogService,
  type StandaloneProfile,
} from './schema.ts';

/**
 * Standalone profiles (`local`): a stack of their own, rendered from the same catalog as
 * every other profile but into files of their own (`docker-compose.local.yml`,
 * `caddy/Caddyfile.local`, …), because their services run without the rest: a service's
 * dependencies, environment and single sign-on there come from its `profileOverrides`.
 */

/** The rendered files a standalone profile has its own variant of. */
export const VARIANT_FILES = [
  'docker-compose.yml',
  'caddy/Caddyfile',
  'probe/services.yaml',
  'model-router/datamancy.yaml',
] as const;

/** `docker-compose.yml` → `docker-compose.local.yml`, `caddy/Caddyfile` → `caddy/Caddyfile.local`. */
export function variantPath(path: string, profile: StandaloneProfile): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash ? `${path.slice(0, dot)}.${profile}${path.slice(dot)}` : `${path}.${profile}`;
}

export function isStandalone(profile: string): profile is StandaloneProfile {
  return (STANDALONE_PROFILES as readonly string[]).includes(profile);
}

/** The standalone profiles this catalog has members of. */
export function standaloneProfiles(catalog: Catalog): StandaloneProfile[] {
  return STANDALONE_PROFILES.filter((p) => catalog.services.some((s) => s.profiles.includes(p)));
}

/** A service as it runs in a standalone profile. */
function asMember(s: CatalogService, profile: StandaloneProfile): CatalogService {
  const o = s.profileOverrides[profile] ?? {};
  const others = s.profiles.filter((p) => !isStandalone(p));
  const sso = o.sso ?? s.sso;
  return {
    ...s,
    // its other profiles still name its group (the probe's, Homepage's)
    profiles: others.length > 0 ? others : [profile],
    dependsOn: o.dependsOn ?? s.dependsOn,
    environment: o.environment ?? s.environment,
    sso,
    // without forward-auth there are no SSO headers to believe from anyone
    trustedProxyEnv: sso === 'forward-auth' ? s.trustedProxyEnv : [],
    profileOverrides: {},
  };
}

/**
 * The catalog of one standalone profile: its members with their overrides applied, and the
 * AI models its members serve.
 */
export function standaloneCatalog(catalog: Catalog, profile: StandaloneProfile): Catalog {
  const services = catalog.services
    .filter((s) => s.profiles.includes(profile))
    .map((s) => asMember(s, profile));
  const names = new Set(services.map((s) => s.name));
  return {
    ...catalog,
    services,
    ai: { models: catalog.ai.models.filter((m) => names.has(m.service)) },
  };
}

/**
 * A standalone profile is described, closed over its dependencies, has the identity
 * service its SSO sites need, and keeps the network policy on its own.
 */
export function checkStandalone(catalog: Catalog): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const profile of STANDALONE_PROFILES) {
    const index = new Map(catalog.services.map((s, i) => [s.name, i]));
    catalog.services.forEach((s, i) => {
      if (s.profileOverrides[profile] !== undefined && !s.profiles.includes(profile))
        issues.push({
          path: `services[${i}].profileOverrides.${profile}`,
          message: `${s.name} is not in profile ${profile}`,
        });
    });
    const members = catalog.services.filter((s) => s.profiles.includes(profile));
    if (members.length === 0) continue;
    if (catalog.standalone[profile] === undefined)
      issues.push({
        path: `standalone.${profile}`,
        message: `services are in profile ${profile}: say what it is for (description)`,
      });
    const names = new Set(members.map((s) => s.name));
    for (const s of members) {
      const i = index.get(s.name) ?? -1;
      const overridden = s.profileOverrides[profile]?.dependsOn !== undefined;
      const m = asMember(s, profile);
      m.dependsOn.forEach((dep, d) => {
        if (names.has(dep)) return;
        issues.push({
          path: overridden
            ? `services[${i}].profileOverrides.${profile}.dependsOn[${d}]`
            : `services[${i}].dependsOn[${d}]`,
          message: index.has(dep)
            ? `${dep} is not in profile ${profile}: list what ${s.name} needs there in profileOverrides.${profile}.dependsOn`
            : `unknown service "${dep}"`,
        });
      });
      if ((m.sso === 'forward-auth' || m.sso === 'oidc') && !names.has('authelia'))
        issues.push({
          path: `services[${i}].profileOverrides.${profile}.sso`,
          message: `profile ${profile} has no authelia: sso ${m.sso} cannot work there (a service with a login of its own may say sso: none)`,
        });
    }
    const variant = standaloneCatalog(catalog, profile);
    for (const issue of checkNetworkPolicy(variant)) {
      const at = /^services\[(\d+)\](.*)$/.exec(issue.path);
      const name = at === null ? undefined : variant.services[Number(at[1])]?.name;
      issues.push({
        path:
          at === null || name === undefined
            ? issue.path
            : `services[${String(index.get(name))}]${at[2] ?? ''}`,
        message: `in profile ${profile}: ${issue.message}`,
      });
    }
  }
  return issues;
}
