export {
  DATA_DIR_VAR,
  EDGE_CA_DIR,
  effectiveProfiles,
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
export type { AiModel, Catalog, CatalogService, Identity, NetworkName } from './schema.ts';
export { renderStack, STACK_FILES } from './stack.ts';
export type { RenderedFile, StackFile } from './stack.ts';
export {
  OIDC_ISSUER_KEY_FILE,
  oidcDigestFile,
  oidcSecretVar,
  renderAutheliaConfig,
} from './authelia.ts';
export {
  ldapAdminDn,
  ldapHashFiles,
  ldapUserDn,
  ldapUserPasswordVar,
  LDIF_MOUNT,
  renderBootstrapLdif,
} from './ldif.ts';
export { litellmApiBase, renderLitellmConfig } from './litellm.ts';
export { renderHomepageServices, renderHomepageSettings } from './homepage.ts';
export {
  CONTROL_PLANE_PANELS,
  PROMETHEUS_TOKEN_FILE,
  renderControlPlaneDashboard,
  renderPrometheusConfig,
} from './observability.ts';
export { renderPostgresInit } from './postgres.ts';
export { renderProbeManifest } from './probe-manifest.ts';
export { composeVariables } from './env-vars.ts';
export type { ComposeVariables } from './env-vars.ts';
export {
  defaultTlsMode,
  derivedFiles,
  formatDotEnv,
  generateIssuerKey,
  generatePassword,
  generateSecret,
  isUsableIssuerKey,
  PBKDF2_ITERATIONS,
  pbkdf2Sha512Digest,
  PROMETHEUS_TOKEN_PATH,
  secretSpecs,
  SETTING_NAMES,
  settingsEnv,
  sshaHash,
  stackFeatures,
  verifyPbkdf2Sha512,
  verifySsha,
} from './secrets.ts';
export type { DerivedFile, SecretSpec, StackSettings, TlsMode } from './secrets.ts';
