import { renderAutheliaConfig } from './authelia.ts';
import { renderHomepageServices, renderHomepageSettings } from './homepage.ts';
import { renderBootstrapLdif } from './ldif.ts';
import { renderLitellmConfig } from './litellm.ts';
import { renderModelRouterConfig } from './model-router.ts';
import {
  renderControlPlaneDashboard,
  renderGrafanaDashboardProvider,
  renderGrafanaDatasources,
  renderPrometheusConfig,
} from './observability.ts';
import { renderPostgresInit } from './postgres.ts';
import { renderProbeManifest } from './probe-manifest.ts';
import { renderCaddyfile, renderCompose } from './render.ts';
import type { Catalog, StandaloneProfile } from './schema.ts';
import { standaloneCatalog, standaloneProfiles, VARIANT_FILES, variantPath } from './standalone.ts';

/**
 * Every file `datamancy render` writes, relative to the stack directory: deterministic and
 * free of secrets (those are in `.env` and the files `datamancy init` derives from it).
 */
const RENDERERS = {
  'docker-compose.yml': renderCompose,
  'caddy/Caddyfile': renderCaddyfile,
  'authelia/configuration.yml': renderAutheliaConfig,
  'ldap/bootstrap.ldif': renderBootstrapLdif,
  'postgres/init-databases.sh': renderPostgresInit,
  'litellm/config.yaml': renderLitellmConfig,
  'model-router/datamancy.yaml': renderModelRouterConfig,
  'homepage/services.yaml': renderHomepageServices,
  'homepage/settings.yaml': () => renderHomepageSettings(),
  'prometheus/prometheus.yml': renderPrometheusConfig,
  'grafana/provisioning/datasources/datamancy.yaml': () => renderGrafanaDatasources(),
  'grafana/provisioning/dashboards/datamancy.yaml': () => renderGrafanaDashboardProvider(),
  'grafana/provisioning/dashboards/json/control-plane.json': () => renderControlPlaneDashboard(),
  'probe/services.yaml': renderProbeManifest,
} satisfies Record<string, (catalog: Catalog) => string>;

export type StackFile = keyof typeof RENDERERS;
export const STACK_FILES = Object.keys(RENDERERS) as StackFile[];

export interface RenderedFile {
  /** A `StackFile`, or a standalone profile's variant of one. */
  path: string;
  content: string;
  /** Executable (PostgreSQL runs its init scripts only when they are). */
  mode: number;
}

/** A standalone profile's own files: its compose file and what its services mount. */
const VARIANT_RENDERERS: Record<
  (typeof VARIANT_FILES)[number],
  (catalog: Catalog, profile: StandaloneProfile) => string
> = {
  'docker-compose.yml': (c, p) => renderCompose(c, p),
  'caddy/Caddyfile': (c) => renderCaddyfile(c),
  'probe/services.yaml': (c) => renderProbeManifest(c),
  'model-router/datamancy.yaml': (c) => renderModelRouterConfig(c),
};

/**
 * Every rendered file: the main stack's, then each standalone profile's variants (only for
 * profiles the catalog has members of).
 */
export function renderStack(catalog: Catalog): RenderedFile[] {
  const main = STACK_FILES.map((path) => ({
    path,
    content: RENDERERS[path](catalog),
    mode: path.endsWith('.sh') ? 0o755 : 0o644,
  }));
  const variants = standaloneProfiles(catalog).flatMap((profile) => {
    const variant = standaloneCatalog(catalog, profile);
    return VARIANT_FILES.map((path) => ({
      path: variantPath(path, profile),
      content: VARIANT_RENDERERS[path](variant, profile),
      mode: 0o644,
    }));
  });
  return [...main, ...variants];
}
