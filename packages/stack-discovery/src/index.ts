export { buildDiscovery, templateDomain } from './discover.ts';
export type { DiscoveryInputs } from './discover.ts';
export { discoverStack, loadProjectEnv } from './load.ts';
export type { DiscoverOptions } from './load.ts';
export {
  isActive,
  loadComposeFiles,
  mergeComposeFiles,
  normalizeProjectName,
  parseComposeFile,
} from './compose.ts';
export type {
  ComposeFile,
  ComposeParseOptions,
  ComposeProject,
  ComposeService,
} from './compose.ts';
export type {
  ComposeDependency,
  ComposeHealthcheck,
  ComposePort,
  DependsOnCondition,
} from './compose-fields.ts';
export { addressToBase, loadCaddyfile, parseCaddyfile, parseUpstream } from './caddyfile.ts';
export type { CaddyParseOptions, CaddyRoute, CaddyRoutes, Upstream } from './caddyfile.ts';
export { createEngine, loadEngineSnapshot } from './engine.ts';
export type { ContainerLister, EngineSnapshot, LiveContainer } from './engine.ts';
export { breakCycles, databaseKind, refersTo } from './graph.ts';
export type { CycleReport } from './graph.ts';
export { healthcheckToCheck } from './healthcheck.ts';
export { interpolate, interpolateTree, InterpolationError, parseDotEnv } from './interpolate.ts';
export type { Env } from './interpolate.ts';
export { PROBE_LABELS, readProbeLabels } from './labels.ts';
export type { ProbeLabels } from './labels.ts';
export { compactManifest, renderGraphText, renderManifest } from './render.ts';
export type { OutputFormat } from './render.ts';
export type {
  DependencyGraph,
  DiscoveryResult,
  EdgeReason,
  GraphEdge,
  GraphNode,
  ManifestCheck,
  ManifestService,
  Source,
  StackManifest,
  StatusRule,
} from './types.ts';
