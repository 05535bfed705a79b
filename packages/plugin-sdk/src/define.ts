import { z } from 'zod';
import { READ_CAPABILITIES, type Capability } from '@datamancy/core';
import type { PluginDefinition, ToolDefinition } from './types.ts';

/** The plugin API this SDK implements; plugins name its major as `apiVersion`. */
export const PLUGIN_API_VERSION = '1.0.0';

const TOOL_NAME_RE = /^[a-z][a-z0-9_]{1,63}$/;
const PLUGIN_ID_RE = /^[a-z][a-z0-9-]{1,31}$/;

export function isWriteCapability(cap: Capability): boolean {
  return !READ_CAPABILITIES.includes(cap);
}

/** Returns a `defineTool` bound to a plugin's config type. */
export function toolsFor<C>() {
  return <S extends z.ZodType>(tool: ToolDefinition<C, S>): ToolDefinition<C, S> => tool;
}

export function defineTool<S extends z.ZodType>(
  tool: ToolDefinition<unknown, S>,
): ToolDefinition<unknown, S> {
  return tool;
}

/** Checks a plugin declaration; a bad one is a programmer error and throws at start-up. */
export function definePlugin<C>(plugin: PluginDefinition<C>): PluginDefinition<C> {
  if (!PLUGIN_ID_RE.test(plugin.id))
    throw new Error(`plugin id "${plugin.id}" must match ${PLUGIN_ID_RE}`);
  for (const tool of plugin.tools) {
    if (!TOOL_NAME_RE.test(tool.name)) {
      throw new Error(`tool "${tool.name}" of plugin ${plugin.id} must match ${TOOL_NAME_RE}`);
    }
    const caps = tool.capabilities ?? plugin.capabilities;
    if (tool.mutating === true && !caps.some(isWriteCapability)) {
      throw new Error(
        `mutating tool ${tool.name} of plugin ${plugin.id} must require a write capability`,
      );
    }
    if (!(tool.input instanceof z.ZodObject)) {
      throw new Error(`tool ${tool.name} of plugin ${plugin.id}: input must be a z.object(...)`);
    }
  }
  return plugin;
}

/** The tool's input as JSON Schema (draft 2020-12, as OpenAI function parameters and MCP take it). */
export function toolInputJsonSchema(tool: ToolDefinition): Record<string, unknown> {
  const schema = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete schema.$schema;
  return schema;
}
