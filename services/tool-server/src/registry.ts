import { join } from 'node:path';
import type { CommonConfig } from '@datamancy/core';
import type { ToolServerConfig } from './config.ts';
import { DockerEngine, resolveEndpoint, type ContainerEngine } from '@datamancy/container-engine';
import { corePlugin } from './plugins/core/index.ts';
import { browserPlugin } from './plugins/browser/index.ts';
import { createHostPlugin } from './plugins/host/index.ts';
import { opsPlugin } from './plugins/ops/index.ts';
import { llmPlugin } from './plugins/llm/index.ts';
import type { RegistryEntry } from './runtime/loader.ts';

/**
 * The built-in plugins, listed once. Later plugins (host, ops, browser) are added here;
 * there is no directory scanning.
 */
export interface PluginDeps {
  engine: ContainerEngine;
}

/** The engine the configuration names (no connection is made until a tool uses it). */
export function createEngine(common: CommonConfig): ContainerEngine {
  return new DockerEngine(
    resolveEndpoint(common.containerEngine.host, common.containerEngine.runtimeDir),
  );
}

export function builtinPlugins(
  common: CommonConfig,
  config: ToolServerConfig,
  deps: PluginDeps = { engine: createEngine(common) },
): RegistryEntry[] {
  return [
    { plugin: corePlugin as RegistryEntry['plugin'], config: config.plugins.core },
    { plugin: createHostPlugin(deps) as RegistryEntry['plugin'], config: config.plugins.host },
    { plugin: opsPlugin as RegistryEntry['plugin'], config: config.plugins.ops },
    {
      plugin: browserPlugin as RegistryEntry['plugin'],
      // No token by default (never the admin token): BROWSER_TOKEN, a `browser.use` token, or
      // the one `datamancy serve` makes for the browser it runs in the same process.
      config: {
        proofsDir: join(common.dataDir, 'proofs'),
        ...(config.plugins.browser as object | undefined),
      },
    },
    {
      plugin: llmPlugin as RegistryEntry['plugin'],
      config: { ...common.llm, ...(config.plugins.llm as object | undefined) },
    },
  ];
}
