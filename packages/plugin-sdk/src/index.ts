export {
  definePlugin,
  defineTool,
  isWriteCapability,
  PLUGIN_API_VERSION,
  toolInputJsonSchema,
  toolsFor,
} from './define.ts';
export type {
  PluginDefinition,
  PluginRequirements,
  ToolContext,
  ToolDefinition,
  ToolNet,
} from './types.ts';
export { AppError, CAPABILITIES, OpenAiUpstream, READ_CAPABILITIES } from '@datamancy/core';
export type { Capability, Identity } from '@datamancy/core';
export {
  ExecAllowlistSchema,
  execNamesOf,
  explainExit,
  findDependents,
  isExecAllowed,
  parseEventTime,
  redactSecrets,
  waitForHealthy,
} from '@datamancy/container-engine';
export type {
  ContainerDetails,
  ContainerEngine,
  ContainerEvent,
  ContainerStats,
  ContainerSummary,
  ExecResult,
  ExitClassification,
  HealthWaitResult,
  LogsResult,
  RedactionOptions,
} from '@datamancy/container-engine';
