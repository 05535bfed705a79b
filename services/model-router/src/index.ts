export {
  BackendSchema,
  checkModels,
  MODEL_ROUTER_ENV_BINDINGS,
  ModelRouterConfigSchema,
  ModelSchema,
} from './config.ts';
export type { BackendConfig, ModelConfig, ModelRouterConfig } from './config.ts';
export { startModelRouter } from './main.ts';
export type { RunningModelRouter, StartModelRouterOptions } from './main.ts';
export { createRouter } from './router.ts';
export type { BuiltRouter } from './router.ts';
export { Scheduler, SchedulerError } from './scheduler.ts';
export type {
  Lease,
  ModelState,
  ModelStatus,
  ScheduledModel,
  SchedulerEffects,
} from './scheduler.ts';
export type { Backend, ContainerControl } from './backends.ts';
export { VERSION as MODEL_ROUTER_VERSION } from './version.ts';
export { createOpenApiDocument } from './openapi.ts';
