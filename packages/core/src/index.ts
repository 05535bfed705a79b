export {
  AppError,
  ERROR_STATUS,
  formatIssuePath,
  isAppError,
  toErrorBody,
  toValidationIssues,
  validationError,
} from './errors.ts';
export type { AppErrorOptions, ErrorBody, ErrorCode, ValidationIssue } from './errors.ts';
export { createLogger, createSilentLogger, REDACT_PATHS } from './logger.ts';
export type { CreateLoggerOptions, Logger } from './logger.ts';
export {
  ConfigError,
  deepMerge,
  loadConfig,
  loadConfigFile,
  parseOverrides,
  readTextFile,
  readYamlFile,
  setPath,
} from './config.ts';
export type { EnvBinding, EnvKind, LoadConfigOptions } from './config.ts';
export {
  AuthConfigSchema,
  CAPABILITIES,
  IDENTITY_KINDS,
  READ_CAPABILITIES,
  SCOPES,
  SERVICE_SCOPES,
  TokenEntrySchema,
  TokenRegistry,
  createTokenRegistry,
  ensureAdminToken,
  loadTokensFile,
  generateToken,
  hasScope,
  hashToken,
  isCapability,
  parseBearer,
} from './auth.ts';
export type {
  AdminTokenResult,
  AuthConfig,
  Capability,
  Identity,
  IdentityKind,
  Scope,
  TokenEntry,
  TokenEntryInput,
} from './auth.ts';
export { createHttpMetrics, Counter, Gauge, Histogram, Registry } from './metrics.ts';
export type { HttpMetrics } from './metrics.ts';
export {
  createServiceApp,
  readIncomingBytes,
  readJson,
  readQuery,
  readValidated,
  renderError,
  requestSignal,
  requireScope,
} from './http-app.ts';
export type {
  HealthDetail,
  ServiceApp,
  ServiceAppOptions,
  ServiceContext,
  ServiceEnv,
  ServiceVariables,
} from './http-app.ts';
export { crossSiteReason, MUTATING_METHODS, requireSameOrigin } from './same-origin.ts';
export type { SameOriginHeaders } from './same-origin.ts';
export { installShutdown, listen } from './server.ts';
export type { Closer, ListenOptions, RunningServer } from './server.ts';
export { openSqliteStore, openStore } from './store.ts';
export { openPostgresStore, toPostgresDdl, toPostgresPlaceholders } from './store-postgres.ts';
export type { Migration, RunResult, SqlExecutor, SqlParams, SqlValue, Store } from './store.ts';
export {
  createSsrfGuard,
  DEFAULT_ALLOW_HOSTS,
  SsrfError,
  STACK_HOSTS,
  stackAllowHosts,
} from './net/ssrf.ts';
export type { SsrfDenyReason, SsrfGuard, SsrfPolicy } from './net/ssrf.ts';
export { guardedRequest } from './net/guarded-http.ts';
export { endToEndHeaders, HOP_BY_HOP_HEADERS } from './net/hop-headers.ts';
export type { GuardedRequestOptions, GuardedResponse } from './net/guarded-http.ts';
export {
  CROSS_ORIGIN_DROPPED_HEADERS,
  isCredentialHeader,
  isRedirect,
  planRedirect,
} from './net/redirect.ts';
export type { RedirectPlan, RedirectRequest } from './net/redirect.ts';
export { CommonConfigSchema, COMMON_ENV_BINDINGS, LlmConfigSchema } from './common-config.ts';
export type { CommonConfig, LlmConfig } from './common-config.ts';
export { OpenAiUpstream, readSseData } from './openai.ts';
export type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  EmbeddingResponse,
  FunctionTool,
  OpenAiUpstreamOptions,
  ToolCall,
} from './openai.ts';
export { isEntryModule, runStandalone } from './standalone.ts';
export type { StandaloneOptions, StandaloneRuntime } from './standalone.ts';
export { BEARER_SECURITY_SCHEMES, errorEnvelopeSchema, errorResponse } from './openapi.ts';
export { findCycle } from './graph.ts';
