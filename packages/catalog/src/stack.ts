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
import type { Catalog } from './schema.ts';

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
  path: StackFile;
  content: string;
  /** Executable (PostgreSQL runs its init scripts only when they are). */
  mode: number;
}

export function renderStack(catalog: Catalog): RenderedFile[] {
  return STACK_FILES.map((path) => ({
    path,
    content: RENDERERS[path](catalog),
    mode: path.endsWith('.sh') ? 0o755 : 0o644,
  }));
}
