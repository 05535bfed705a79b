import { renderAutheliaConfig } from './authelia.ts';
import { renderProbeManifest } from './probe-manifest.ts';
import { renderCaddyfile, renderCompose } from './render.ts';
import type { Catalog } from './schema.ts';

/** Every file `datamancy render` writes, relative to the stack directory. */
export const STACK_FILES = [
  'docker-compose.yml',
  'caddy/Caddyfile',
  'authelia/configuration.yml',
  'probe/services.yaml',
] as const;

export interface RenderedFile {
  path: (typeof STACK_FILES)[number];
  content: string;
}

export function renderStack(catalog: Catalog): RenderedFile[] {
  return [
    { path: 'docker-compose.yml', content: renderCompose(catalog) },
    { path: 'caddy/Caddyfile', content: renderCaddyfile(catalog) },
    { path: 'authelia/configuration.yml', content: renderAutheliaConfig(catalog) },
    { path: 'probe/services.yaml', content: renderProbeManifest(catalog) },
  ];
}
