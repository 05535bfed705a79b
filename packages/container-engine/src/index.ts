export { DockerEngine } from './docker-engine.ts';
export { DEFAULT_SOCKETS, describeEndpoint, resolveEndpoint } from './endpoint.ts';
export type { EngineEndpoint } from './endpoint.ts';
export {
  computeStats,
  demuxLines,
  healthcheckArgv,
  mapDetails,
  mapSummary,
  parseDependsOn,
  redactInspect,
} from './mapping.ts';
export { isSecretName, REDACTED, redactSecrets } from './redaction.ts';
export type { RedactionOptions } from './redaction.ts';
export { classifyExit, explainExit } from './exit-classifier.ts';
export { ExecAllowlistSchema, execNamesOf, isExecAllowed } from './exec-allowlist.ts';
export type { ExecAllowlist } from './exec-allowlist.ts';
export type { ExitContext, ExitVerdict } from './exit-classifier.ts';
export { mapEvent, parseEventTime } from './events.ts';
export type { TimedEvent } from './events.ts';
export { findDependents, waitForHealthy } from './health.ts';
export type { HealthWaitOutcome, HealthWaitResult } from './health.ts';
export type {
  ContainerDetails,
  ContainerEngine,
  ContainerEvent,
  ContainerEventAction,
  ContainerState,
  ContainerStats,
  ContainerSummary,
  EngineInfo,
  EventsQuery,
  ExecOptions,
  ExecResult,
  ExitClassification,
  HealthcheckSpec,
  HealthState,
  LogLine,
  LogsOptions,
  LogsResult,
  NetworkSpec,
  NetworkSummary,
  PortBinding,
  ResourceUpdate,
} from './types.ts';
