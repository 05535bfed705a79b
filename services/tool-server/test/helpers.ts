import { z } from 'zod';
import {
  CommonConfigSchema,
  createSilentLogger,
  createSsrfGuard,
  generateToken,
  listen,
  openSqliteStore,
  READ_CAPABILITIES,
  TokenRegistry,
  type Capability,
  type TokenEntryInput,
} from '@datamancy/core';
import { definePlugin, defineTool } from '@datamancy/plugin-sdk';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { createApp } from '../src/app.ts';
import { AuditLog } from '../src/audit/audit-log.ts';
import { ToolServerConfigSchema } from '../src/config.ts';
import { effectiveAllowHosts } from '../src/main.ts';
import { builtinPlugins } from '../src/registry.ts';
import { loadPlugins, type RegistryEntry } from '../src/runtime/loader.ts';

export const ADMIN = generateToken();
export const READER = generateToken();
export const WRITER = generateToken();
export const TEXT_ONLY = generateToken();

export const TEST_TOKENS: TokenEntryInput[] = [
  { name: 'reader', token: READER, scopes: ['host.docker.inspect', 'host.network.http'] },
  { name: 'writer', token: WRITER, scopes: ['host.docker.inspect', 'host.docker.write'] },
  { name: 'texts', token: TEXT_ONLY, scopes: ['host.shell.read'] },
];

/** Facts the test plugin's tools leave behind for assertions. */
export const probes = { aborted: 0, callerAborts: 0, restarted: [] as string[] };

export const testPlugin = definePlugin({
  id: 'testing',
  version: '0.0.1',
  apiVersion: 1,
  description: 'tools that exercise the dispatcher',
  capabilities: [],
  tools: [
    defineTool({
      name: 'slow_tool',
      description: 'waits until aborted',
      timeoutMs: 150,
      input: z.object({}),
      handler: (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            probes.aborted++;
            reject(new Error('aborted'));
          });
        }),
    }),
    defineTool({
      name: 'wait_for_abort',
      description: 'waits (up to 10 s) until its signal fires',
      timeoutMs: 10_000,
      input: z.object({}),
      handler: (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            probes.callerAborts++;
            reject(new Error('aborted'));
          });
        }),
    }),
    defineTool({
      name: 'restart_thing',
      description: 'pretends to restart a container',
      capabilities: ['host.docker.write'],
      mutating: true,
      input: z.object({ name: z.string().min(1) }),
      handler: (_ctx, args) => {
        probes.restarted.push(args.name);
        return { restarted: args.name };
      },
    }),
    defineTool({
      name: 'big_output',
      description: 'returns more than its budget',
      maxOutputBytes: 100,
      input: z.object({}),
      handler: () => ({ data: 'x'.repeat(500) }),
    }),
    defineTool({
      name: 'broken_tool',
      description: 'throws a plain error',
      input: z.object({}),
      handler: () => {
        throw new Error('disk on fire');
      },
    }),
    defineTool({
      name: 'whoami',
      description: 'echoes the caller',
      input: z.object({
        n: z.number().int().min(1).max(10).default(1),
        tags: z.array(z.string()).default([]),
      }),
      handler: (ctx, args) => ({ caller: ctx.caller.name, n: args.n, tags: args.tags }),
    }),
  ],
});

export interface TestServerOptions {
  allowCaps?: Capability[];
  llmBaseUrl?: string;
  llmApiKey?: string;
  maxSteps?: number;
  bodyLimitBytes?: number;
  extraPlugins?: RegistryEntry[];
  /** DOCKER_HOST of the engine the host plugin talks to (default: a socket that does not exist). */
  dockerHost?: string;
  hostPluginConfig?: unknown;
  /** toolServer.plugins.<id> slices, e.g. { ops: { targets: … } }. */
  pluginConfigs?: Record<string, unknown>;
}

export async function createTestToolServer(options: TestServerOptions = {}) {
  const common = CommonConfigSchema.parse({
    auth: { tokens: TEST_TOKENS },
    llm: {
      baseUrl: options.llmBaseUrl,
      apiKey: options.llmApiKey,
      maxSteps: options.maxSteps ?? 8,
    },
  });
  const config = ToolServerConfigSchema.parse({
    allowCaps: options.allowCaps ?? [...READ_CAPABILITIES, 'host.docker.write'],
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
    plugins: { host: options.hostPluginConfig, ...options.pluginConfigs },
  });
  const engine = new DockerEngine(
    resolveEndpoint(options.dockerHost ?? 'unix:///nonexistent/docker.sock'),
  );
  const logger = createSilentLogger();
  const catalog = loadPlugins(
    [
      ...builtinPlugins(common, config, { engine }),
      { plugin: testPlugin as RegistryEntry['plugin'] },
      ...(options.extraPlugins ?? []),
    ],
    { allowCaps: new Set(config.allowCaps), hostVersion: '0.1.0', logger },
  );
  const store = openSqliteStore(':memory:');
  const audit = await AuditLog.open(store);
  const { app, dispatcher } = createApp({
    config,
    llm: common.llm,
    logger,
    tokens: new TokenRegistry(ADMIN, TEST_TOKENS),
    catalog,
    audit,
    guard: createSsrfGuard({ allowHosts: effectiveAllowHosts(common, config) }),
  });
  return { app, dispatcher, audit, catalog, store };
}

export function bearer(token: string, extra: Record<string, string> = {}) {
  return { authorization: `Bearer ${token}`, ...extra };
}

export function postJson(token: string, body: unknown): RequestInit {
  return {
    method: 'POST',
    headers: bearer(token, { 'content-type': 'application/json' }),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** The test server on a real loopback socket (port 0), for clients that need one. */
export async function listenTestToolServer(options: TestServerOptions = {}) {
  const built = await createTestToolServer(options);
  const server = await listen(built.app, { host: '127.0.0.1', port: 0 });
  return { ...built, server };
}
