import {
  isEntryModule,
  COMMON_ENV_BINDINGS,
  CommonConfigSchema,
  createSsrfGuard,
  listen,
  READ_CAPABILITIES,
  stackAllowHosts,
  type TokenRegistry,
  type CommonConfig,
  type Logger,
  type RunningServer,
  type Store,
  runStandalone,
} from '@datamancy/core';
import type { ContainerEngine } from '@datamancy/container-engine';
import { createApp } from './app.ts';
import { AuditLog } from './audit/audit-log.ts';
import {
  TOOL_SERVER_ENV_BINDINGS,
  ToolServerConfigSchema,
  type ToolServerConfig,
} from './config.ts';
import { builtinPlugins, createEngine } from './registry.ts';
import { loadPlugins, type RegistryEntry } from './runtime/loader.ts';
import { TOOL_SERVER_VERSION } from './version.ts';

export interface StartToolServerOptions {
  common: CommonConfig;
  config: ToolServerConfig;
  logger: Logger;
  tokens: TokenRegistry;
  store: Store;
  /** Replaces the built-in registry (tests add plugins this way). */
  plugins?: RegistryEntry[];
  /** The container engine; default from DOCKER_HOST or the usual sockets. */
  engine?: ContainerEngine;
}

export interface RunningToolServer {
  server: RunningServer;
  close(): Promise<void>;
}

/** The hosts URL-fetching tools may reach: loopback, the stack's names, the domain, and extras. */
export function effectiveAllowHosts(common: CommonConfig, config: ToolServerConfig): string[] {
  return stackAllowHosts(common.domain, config.allowHosts);
}

export async function startToolServer(options: StartToolServerOptions): Promise<RunningToolServer> {
  const logger = options.logger.child({ service: 'tool-server' });
  const allowCaps = new Set(options.config.allowCaps ?? READ_CAPABILITIES);
  logger.info({ allowCaps: [...allowCaps] }, 'capabilities allowed');
  const engine = options.engine ?? createEngine(options.common);
  logger.info({ engine: engine.endpoint }, 'container engine endpoint');
  const catalog = loadPlugins(
    options.plugins ?? builtinPlugins(options.common, options.config, { engine }),
    {
      allowCaps,
      hostVersion: TOOL_SERVER_VERSION,
      logger,
    },
  );
  const audit = await AuditLog.open(options.store, logger);
  const guard = createSsrfGuard({
    allowHosts: effectiveAllowHosts(options.common, options.config),
  });
  const { app } = createApp({
    config: options.config,
    llm: options.common.llm,
    logger,
    tokens: options.tokens,
    catalog,
    audit,
    guard,
  });
  const server = await listen(app, {
    host: options.config.host ?? options.common.host,
    port: options.config.port,
    logger,
    name: 'tool-server',
  });
  return {
    server,
    close: async () => {
      await server.close();
      await audit.flush();
    },
  };
}

/** Standalone entry: `tsx services/tool-server/src/main.ts` (the CLI's `serve tool-server` is the usual way). */
async function main(): Promise<void> {
  await runStandalone({
    schema: CommonConfigSchema.extend({ toolServer: ToolServerConfigSchema.prefault({}) }),
    bindings: [...COMMON_ENV_BINDINGS, ...TOOL_SERVER_ENV_BINDINGS],
    env: process.env,
    needsStore: true,
    start: ({ config, logger, tokens, store }) =>
      startToolServer({
        common: config,
        config: config.toolServer,
        logger,
        tokens,
        store: store as Store,
      }),
  });
}

if (isEntryModule(import.meta.url)) {
  await main();
}
