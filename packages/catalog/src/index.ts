export {
  GENERATED_HEADER,
  loadCatalog,
  parseCatalog,
  renderCaddyfile,
  renderCompose,
} from './render.ts';
export {
  CatalogSchema,
  CatalogServiceSchema,
  NETWORK_SUBNETS,
  NETWORKS,
  PROFILES,
} from './schema.ts';
export type { Catalog, CatalogService, NetworkName } from './schema.ts';
export { renderStack, STACK_FILES } from './stack.ts';
export type { RenderedFile } from './stack.ts';
export { oidcDigestVar, renderAutheliaConfig } from './authelia.ts';
export { renderProbeManifest } from './probe-manifest.ts';
