import {
  COMMON_ENV_BINDINGS,
  CommonConfigSchema,
  isEntryModule,
  runStandalone,
  type CommonConfig,
  type Logger,
  type RunningServer,
  type TokenRegistry,
} from '@datamancy/core';
import type { ContainerControl } from './backends.ts';
import {
  MODEL_ROUTER_ENV_BINDINGS,
  ModelRouterConfigSchema,
  type ModelRouterConfig,
} from './config.ts';
import { createRouter, listenRouter, type BuiltRouter } from './router.ts';

export interface StartModelRouterOptions {
  common: CommonConfig;
  config: ModelRouterConfig;
  logger: Logger;
  tokens: TokenRegistry;
  containers?: () => ContainerControl;
}

export interface RunningModelRouter {
  server: RunningServer;
  router: BuiltRouter;
  close(): Promise<void>;
}

/** Starts the router: pinned and always-on models first, then the HTTP server. */
export async function startModelRouter(
  options: StartModelRouterOptions,
): Promise<RunningModelRouter> {
  const logger = options.logger.child({ service: 'model-router' });
  const router = createRouter({
    config: options.config,
    logger,
    tokens: options.tokens,
    ...(options.containers === undefined ? {} : { containers: options.containers }),
  });
  try {
    await router.start();
  } catch (err) {
    await router.close();
    throw err;
  }
  const server = await listenRouter(router, {
    host: options.config.host ?? options.common.host,
    port: options.config.port,
    logger,
  });
  logger.info({ models: options.config.models.map((m) => m.name) }, 'model router ready');
  return {
    server,
    router,
    close: async () => {
      await server.close();
      await router.close();
    },
  };
}

/** Standalone entry: `tsx services/model-router/src/main.ts` (`datamancy serve model-router` is the usual way). */
async function main(): Promise<void> {
  await runStandalone({
    schema: CommonConfigSchema.extend({ modelRouter: ModelRouterConfigSchema.prefault({}) }),
    bindings: [...COMMON_ENV_BINDINGS, ...MODEL_ROUTER_ENV_BINDINGS],
    env: process.env,
    needsStore: false,
    start: ({ config, logger, tokens }) =>
      startModelRouter({ common: config, config: config.modelRouter, logger, tokens }),
  });
}

if (isEntryModule(import.meta.url)) {
  await main();
}
