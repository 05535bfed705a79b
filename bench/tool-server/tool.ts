import { createHash } from 'node:crypto';
import { CommonConfigSchema, createSilentLogger, type Identity } from '@datamancy/core';
import type { ToolContext, ToolDefinition, ToolNet } from '@datamancy/plugin-sdk';
import { builtinPlugins, ToolServerConfigSchema } from '@datamancy/tool-server';

/**
 * The trivial tool every target serves: the core plugin's `hash_sha256`, taken from the
 * built-in registry so the MCP reference server runs the very same schema and handler.
 */
export const TOOL_NAME = 'hash_sha256';
export const TOOL_ARGS = { text: 'datamancy tool-server benchmark' } as const;
export const EXPECTED_HEX = createHash('sha256').update(TOOL_ARGS.text, 'utf8').digest('hex');

export function benchTool(): ToolDefinition {
  const entries = builtinPlugins(CommonConfigSchema.parse({}), ToolServerConfigSchema.parse({}));
  const core = entries.find((e) => e.plugin.id === 'core');
  const tool = core?.plugin.tools.find((t) => t.name === TOOL_NAME);
  if (tool === undefined) throw new Error(`core plugin has no ${TOOL_NAME} tool`);
  return tool;
}

export const BENCH_IDENTITY: Identity = {
  name: 'admin',
  scopes: new Set(['admin']),
  via: 'admin-token',
  kind: 'person',
};

const noNet: ToolNet = {
  request: () => Promise.reject(new Error('no network in the benchmark')),
  checkHost: () => {
    throw new Error('no network in the benchmark');
  },
  lookup: (_host, _options, callback) => callback(new Error('no network'), '', 4),
};

/** A handler context for calling a tool outside the dispatcher (hash_sha256 reads none of it). */
export function standaloneContext(): ToolContext {
  return {
    logger: createSilentLogger(),
    config: {},
    signal: new AbortController().signal,
    caller: BENCH_IDENTITY,
    requestId: 'bench',
    net: noNet,
  };
}

/** True when a tool result is the expected `{ hex }`. */
export function isExpectedResult(result: unknown): boolean {
  return (
    result !== null &&
    typeof result === 'object' &&
    (result as { hex?: unknown }).hex === EXPECTED_HEX
  );
}
