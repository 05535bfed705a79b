import type { LookupFunction } from 'node:net';
import type { z } from 'zod';
import type {
  Capability,
  GuardedRequestOptions,
  GuardedResponse,
  Identity,
  Logger,
} from '@datamancy/core';

/** Network access a tool gets: every call goes through the host's SSRF guard. */
export interface ToolNet {
  request(url: string | URL, options: GuardedRequestOptions): Promise<GuardedResponse>;
  /** Throws unless the host may be contacted; pair with `lookup` for raw sockets. */
  checkHost(host: string): void;
  lookup: LookupFunction;
}

/** What a tool handler sees: never the server, only what it needs. */
export interface ToolContext<C = unknown> {
  logger: Logger;
  /** The plugin's validated config slice. */
  config: C;
  /** Aborted on timeout or when the caller goes away; pass it to every I/O call. */
  signal: AbortSignal;
  caller: Identity;
  requestId: string;
  net: ToolNet;
}

export interface ToolDefinition<C = unknown, S extends z.ZodType = z.ZodType> {
  /** snake_case, unique across all plugins. */
  name: string;
  description: string;
  input: S;
  /** Capabilities the caller and the server must hold; defaults to the plugin's. */
  capabilities?: readonly Capability[];
  /** Changes the world (restart, write...). Must declare a write capability. */
  mutating?: boolean;
  /** Deadline for one call; the signal aborts when it passes. */
  timeoutMs?: number;
  /** Upper bound of the JSON-encoded result; larger results are an error, not a cut. */
  maxOutputBytes?: number;
  handler(ctx: ToolContext<C>, args: z.output<S>): unknown;
}

export interface PluginRequirements {
  /** semver range the tool-server version must satisfy. */
  host?: string;
  /** semver range the plugin API version must satisfy. */
  api?: string;
}

export interface PluginDefinition<C = unknown> {
  id: string;
  version: string;
  /** Major version of the plugin API the plugin was written against. */
  apiVersion: number;
  description: string;
  /** Capabilities the server must allow for the plugin to load at all. */
  capabilities: readonly Capability[];
  requires?: PluginRequirements;
  configSchema?: z.ZodType<C>;
  /** Returns why the plugin cannot serve with this config (skipped, logged), or undefined. */
  unavailableReason?(config: C): string | undefined;
  tools: readonly ToolDefinition<C>[];
}
