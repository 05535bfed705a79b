export { createInvestigator, INVESTIGATOR_TOOLS } from './agent/investigator.ts';
export { createApp } from './app.ts';
export type { ProbeAppDeps } from './app.ts';
export { PROBE_ENV_BINDINGS, ProbeConfigSchema } from './config.ts';
export type { ProbeConfig } from './config.ts';
export { createOpenApiDocument } from './http/openapi.ts';
export {
  expandManifest,
  findDependencyCycle,
  loadManifestFile,
  substituteDomain,
  wellKnownPort,
} from './manifest/expand.ts';
export { ManifestSchema } from './manifest/schema.ts';
export type { CheckSpec, Manifest, ManifestInput, ServiceSpec } from './manifest/schema.ts';
export { manifestHosts, selfManifest, startProbeService } from './main.ts';
export type { RunningProbeService, StartProbeServiceOptions } from './main.ts';
export { SERVICE_STATES, step, TRANSITIONS } from './judge/state.ts';
export type { RoundOutcome, ServiceState } from './judge/state.ts';
export { PROBE_VERSION } from './version.ts';
