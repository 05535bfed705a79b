import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type z } from 'zod';
import { COMMON_ENV_BINDINGS, CommonConfigSchema, loadConfig } from '@datamancy/core';
import { BROWSER_ENV_BINDINGS, BrowserConfigSchema } from '@datamancy/browser';
import { DOCKER_PROXY_ENV_BINDINGS, DockerProxyConfigSchema } from '@datamancy/docker-proxy';
import { MODEL_ROUTER_ENV_BINDINGS, ModelRouterConfigSchema } from '@datamancy/model-router';
import { PROBE_ENV_BINDINGS, ProbeConfigSchema } from '@datamancy/probe';
import { SPEECH_GATEWAY_ENV_BINDINGS, SpeechGatewayConfigSchema } from '@datamancy/speech-gateway';
import { TOOL_SERVER_ENV_BINDINGS, ToolServerConfigSchema } from '@datamancy/tool-server';

/** The whole control plane's configuration: shared settings plus one section per service. */
export const DatamancyConfigSchema = CommonConfigSchema.extend({
  toolServer: ToolServerConfigSchema.prefault({}),
  browser: BrowserConfigSchema.prefault({}),
  probe: ProbeConfigSchema.prefault({}),
  modelRouter: ModelRouterConfigSchema.prefault({}),
  speechGateway: SpeechGatewayConfigSchema.prefault({}),
  dockerProxy: DockerProxyConfigSchema.prefault({}),
});
export type DatamancyConfig = z.output<typeof DatamancyConfigSchema>;

export const ENV_BINDINGS = [
  ...COMMON_ENV_BINDINGS,
  ...TOOL_SERVER_ENV_BINDINGS,
  ...BROWSER_ENV_BINDINGS,
  ...PROBE_ENV_BINDINGS,
  ...MODEL_ROUTER_ENV_BINDINGS,
  ...SPEECH_GATEWAY_ENV_BINDINGS,
  ...DOCKER_PROXY_ENV_BINDINGS,
];

export interface ConfigFlags {
  config?: string;
  dataDir?: string;
  set?: string[];
}

/** `--config`, else DATAMANCY_CONFIG, else ./datamancy.yaml when present. */
export function resolveConfigFile(flags: ConfigFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (flags.config !== undefined) return flags.config;
  if (env.DATAMANCY_CONFIG !== undefined && env.DATAMANCY_CONFIG !== '')
    return env.DATAMANCY_CONFIG;
  return existsSync('datamancy.yaml') ? 'datamancy.yaml' : undefined;
}

export function loadDatamancyConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): DatamancyConfig {
  const overrides = [...(flags.set ?? [])];
  if (flags.dataDir !== undefined) overrides.push(`dataDir=${flags.dataDir}`);
  const config = loadConfig({
    schema: DatamancyConfigSchema,
    file: resolveConfigFile(flags, env),
    env,
    bindings: ENV_BINDINGS,
    overrides,
  });
  return { ...config, dataDir: resolve(config.dataDir) };
}

export const tokenFilePath = (config: DatamancyConfig): string => join(config.dataDir, 'api-token');
export const storePath = (config: DatamancyConfig): string =>
  join(config.dataDir, 'datamancy.sqlite');
