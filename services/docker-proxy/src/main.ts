import {
  COMMON_ENV_BINDINGS,
  CommonConfigSchema,
  ConfigError,
  createLogger,
  installShutdown,
  isEntryModule,
  loadConfig,
} from '@datamancy/core';
import { DOCKER_PROXY_ENV_BINDINGS, DockerProxyConfigSchema } from './config.ts';
import { startDockerProxy } from './proxy.ts';

/** The shared settings (bind address, log level) plus the proxy's section. */
export const DockerProxyStandaloneSchema = CommonConfigSchema.extend({
  dockerProxy: DockerProxyConfigSchema.prefault({}),
});

/**
 * Standalone entry: `tsx services/docker-proxy/src/main.ts` (in the image, `datamancy serve
 * docker-proxy`). Unlike the other services it holds no token, opens no store and writes
 * nothing: it only needs the engine's socket and its policy.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig({
      schema: DockerProxyStandaloneSchema,
      file: process.env.DATAMANCY_CONFIG,
      env: process.env,
      bindings: [...COMMON_ENV_BINDINGS, ...DOCKER_PROXY_ENV_BINDINGS],
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, name: 'datamancy' });
  const running = await startDockerProxy({
    config: config.dockerProxy,
    defaultHost: config.host,
    logger,
  });
  installShutdown(logger, [() => running.close()]);
}

if (isEntryModule(import.meta.url)) {
  await main();
}
