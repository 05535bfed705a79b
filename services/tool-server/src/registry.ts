import type { CommonConfig } from '@datamancy/core';
import type { ToolServerConfig } from './config.ts';
import { corePlugin } from './plugins/core/index.ts';
import { llmPlugin } from './plugins/llm/index.ts';
import type { RegistryEntry } from './runtime/loader.ts';

/**
 * The built-in plugins, listed once. Later plugins (host, ops, browser) are added here;
 * there is no directory scanning.
 */
export function builtinPlugins(common: CommonConfig, config: ToolServerConfig): RegistryEntry[] {
  return [
    { plugin: corePlugin as RegistryEntry['plugin'], config: config.plugins.core },
    {
      plugin: llmPlugin as RegistryEntry['plugin'],
      config: { ...common.llm, ...(config.plugins.llm as object | undefined) },
    },
  ];
}
