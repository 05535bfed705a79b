export {
  DATA_DIR_VAR,
  EDGE_CA_CERT_PATH,
  EDGE_CA_DIR,
  EDGE_CA_KEY_PATH,
  effectiveProfiles,
  GENERATED_HEADER,
  loadCatalog,
  parseCatalog,
  publicServices,
  renderCaddyfile,
  renderCaddySite,
  renderCaddySnippets,
  renderCompose,
  SSO_HEADERS,
  STACK_CADDY_TARGETS,
} from './render.ts';
export type { CaddyTargets } from './render.ts';
export {
  CatalogSchema,
  CatalogServiceSchema,
  INTERNAL_NETWORKS,
  NETWORK_IP_RANGES,
  NETWORK_SUBNETS,
  NETWORKS,
  PROFILES,
  SOCKET_NETWORKS,
  STANDALONE_PROFILES,
} from './schema.ts';
export {
  EDGE_SERVICE,
  edgeAddress,
  mountsEngineSocket,
  trustedEdgeAddress,
} from './network-policy.ts';
export {
  ADMIN_TOKEN_VAR,
  isControlPlaneService,
  renderSecretDigests,
  renderTokensFile,
  SECRET_DIGESTS_MOUNT,
  SECRET_DIGESTS_PATH,
  serviceTokens,
  serviceTokenVar,
  TOKENS_FILE_MOUNT,
  TOKENS_FILE_PATH,
} from './tokens.ts';
export type { ServiceToken } from './tokens.ts';
export type {
  AiModel,
  Catalog,
  CatalogService,
  Identity,
  NetworkName,
  StandaloneProfile,
} from './schema.ts';
export { renderStack, STACK_FILES } from './stack.ts';
export {
  isStandalone,
  standaloneCatalog,
  standaloneProfiles,
  VARIANT_FILES,
  variantPath,
} from './standalone.ts';
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
  derivedFileReaders,
  derivedFiles,
  formatDotEnv,
  optionalVariables,
  generateIssuerKey,
  generatePassword,
  generateSecret,
  isUsableIssuerKey,
  PBKDF2_ITERATIONS,
  pbkdf2Sha512Digest,
  PROMETHEUS_TOKEN_PATH,
  secretSpecs,
  SETTING_DEFAULTS,
  SETTING_NAMES,
  settingsEnv,
  sshaHash,
  stackFeatures,
  verifyPbkdf2Sha512,
  verifySsha,
} from './secrets.ts';
export type { DerivedFile, SecretSpec, StackSettings, TlsMode } from './secrets.ts';
