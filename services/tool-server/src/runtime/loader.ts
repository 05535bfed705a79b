import semver from 'semver';
import type { z } from 'zod';
import { ConfigError, toValidationIssues, type Capability, type Logger } from '@datamancy/core';
import {
  PLUGIN_API_VERSION,
  type PluginDefinition,
  type ToolDefinition,
} from '@datamancy/plugin-sdk';

/** A tool ready to dispatch: its declaration plus the plugin it came from and its config. */
export interface LoadedTool {
  tool: ToolDefinition;
  pluginId: string;
  capabilities: readonly Capability[];
  config: unknown;
}

export interface PluginStatus {
  id: string;
  version: string;
  loaded: boolean;
  reason?: string;
  tools: string[];
}

export interface ToolCatalog {
  tools: Map<string, LoadedTool>;
  plugins: PluginStatus[];
}

export interface RegistryEntry {
  plugin: PluginDefinition<never>;
  /** The raw config slice handed to the plugin's schema. */
  config?: unknown;
}

export interface LoadOptions {
  allowCaps: ReadonlySet<Capability>;
  hostVersion: string;
  logger: Logger;
}

function missing(needed: readonly Capability[], allowed: ReadonlySet<Capability>): Capability[] {
  return needed.filter((c) => !allowed.has(c));
}

function parsePluginConfig(plugin: PluginDefinition<never>, raw: unknown): unknown {
  const schema = plugin.configSchema as z.ZodType | undefined;
  if (schema === undefined) return raw ?? {};
  const result = schema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(
      toValidationIssues(result.error.issues, `toolServer.plugins.${plugin.id}`),
    );
  }
  return result.data;
}

/**
 * Loads the registry's plugins that the capability allowlist and version requirements permit.
 * Invalid plugin config and duplicate tool names are start-up errors and throw.
 */
export function loadPlugins(entries: readonly RegistryEntry[], options: LoadOptions): ToolCatalog {
  const tools = new Map<string, LoadedTool>();
  const plugins: PluginStatus[] = [];
  const ids = new Set<string>();
  const apiMajor = semver.major(PLUGIN_API_VERSION);
  const owners = new Map<string, string>();
  for (const { plugin } of entries) {
    for (const tool of plugin.tools) {
      const owner = owners.get(tool.name);
      if (owner !== undefined) {
        throw new Error(`duplicate tool name "${tool.name}" in plugins ${owner} and ${plugin.id}`);
      }
      owners.set(tool.name, plugin.id);
    }
  }

  for (const { plugin, config: rawConfig } of entries) {
    if (ids.has(plugin.id)) throw new Error(`plugin id "${plugin.id}" is registered twice`);
    ids.add(plugin.id);
    const skip = (reason: string): void => {
      options.logger.info(
        { plugin: plugin.id, reason },
        `Skipped plugin: ${plugin.id} v${plugin.version} (${reason})`,
      );
      plugins.push({ id: plugin.id, version: plugin.version, loaded: false, reason, tools: [] });
    };

    if (plugin.apiVersion !== apiMajor) {
      skip(`written for plugin API v${plugin.apiVersion}, this server speaks v${apiMajor}`);
      continue;
    }
    if (
      plugin.requires?.api !== undefined &&
      !semver.satisfies(PLUGIN_API_VERSION, plugin.requires.api)
    ) {
      skip(`requires plugin API ${plugin.requires.api}, have ${PLUGIN_API_VERSION}`);
      continue;
    }
    if (
      plugin.requires?.host !== undefined &&
      !semver.satisfies(options.hostVersion, plugin.requires.host)
    ) {
      skip(`requires tool-server ${plugin.requires.host}, have ${options.hostVersion}`);
      continue;
    }
    const lacking = missing(plugin.capabilities, options.allowCaps);
    if (lacking.length > 0) {
      skip(`capability not allowed: ${lacking.join(', ')}`);
      continue;
    }
    const config = parsePluginConfig(plugin, rawConfig);
    const unavailable = plugin.unavailableReason?.(config as never);
    if (unavailable !== undefined) {
      skip(unavailable);
      continue;
    }

    const loadedNames: string[] = [];
    for (const tool of plugin.tools as readonly ToolDefinition[]) {
      const capabilities = tool.capabilities ?? plugin.capabilities;
      const lackingTool = missing(capabilities, options.allowCaps);
      if (lackingTool.length > 0) {
        options.logger.info(
          { plugin: plugin.id, tool: tool.name, missing: lackingTool },
          `Skipped tool ${tool.name}: capability not allowed: ${lackingTool.join(', ')}`,
        );
        continue;
      }
      tools.set(tool.name, { tool, pluginId: plugin.id, capabilities, config });
      loadedNames.push(tool.name);
    }
    options.logger.info(
      { plugin: plugin.id, tools: loadedNames },
      `Loaded plugin: ${plugin.id} v${plugin.version}`,
    );
    plugins.push({ id: plugin.id, version: plugin.version, loaded: true, tools: loadedNames });
  }
  return { tools, plugins };
}
