export { DockerEngine } from './docker-engine.ts';
export { DEFAULT_SOCKETS, describeEndpoint, resolveEndpoint } from './endpoint.ts';
export type { EngineEndpoint } from './endpoint.ts';
export {
  computeStats,
  demuxLines,
  mapDetails,
  mapSummary,
  parseDependsOn,
  redactInspect,
} from './mapping.ts';
export { findDependents, waitForHealthy } from './health.ts';
export type { HealthWaitOutcome, HealthWaitResult } from './health.ts';
export type {
  ContainerDetails,
  ContainerEngine,
  ContainerState,
  ContainerStats,
  ContainerSummary,
  EngineInfo,
  ExecOptions,
  ExecResult,
  HealthcheckSpec,
  HealthState,
  LogLine,
  LogsOptions,
  LogsResult,
  PortBinding,
} from './types.ts';
