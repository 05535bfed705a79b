export {
  checkExecBody,
  checkResizeBody,
  checkTimeoutBody,
  checkUpdateBody,
  DOCKERODE_ARTEFACT,
  UPDATE_KEYS,
} from './bodies.ts';
export type { BodyCheck, BodyFacts, ExecRequest, Refusal } from './bodies.ts';
export { DOCKER_PROXY_ENV_BINDINGS, DockerProxyConfigSchema, POLICIES } from './config.ts';
export type { DockerProxyConfig, PolicyName } from './config.ts';
export { ExecRegistry } from './exec-registry.ts';
export { DockerProxyStandaloneSchema } from './main.ts';
export { startDockerProxy } from './proxy.ts';
export { CONTROL_PLANE_ROUTES, decide, denialMessage, UNMANAGED_LABEL } from './policy.ts';
export type {
  ContainerFacts,
  Decision,
  ForwardBody,
  PolicyFacts,
  PolicyOptions,
  PolicyRequest,
} from './policy.ts';
export type { DockerProxyStats, RunningDockerProxy, StartDockerProxyOptions } from './proxy.ts';
export { MAX_TARGET_LENGTH, MIN_API_VERSION, parseTarget } from './target.ts';
export type { RequestTarget, TargetResult } from './target.ts';
export { EngineCallError, inspectContainer, pingEngine } from './upstream.ts';
