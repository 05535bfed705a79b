import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { createTokenRegistry, type TokenRegistry } from './auth.ts';
import type { CommonConfig } from './common-config.ts';
import { ConfigError, loadConfig, type EnvBinding } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { installShutdown } from './server.ts';
import { openStore, type Store } from './store.ts';

export interface StandaloneRuntime<C> {
  config: C;
  logger: Logger;
  tokens: TokenRegistry;
  store: Store | undefined;
}

export interface StandaloneOptions<S extends z.ZodType<CommonConfig>> {
  /** The common schema extended with the service's section. */
  schema: S;
  bindings: readonly EnvBinding[];
  env: NodeJS.ProcessEnv;
  /** Opens the store (SQLite in the data dir, or DATABASE_URL) for the service. */
  needsStore: boolean;
  start(rt: StandaloneRuntime<z.output<S>>): Promise<{ close(): Promise<void> }>;
}

/**
 * A service's standalone entry (`tsx services/<name>/src/main.ts`, as a container runs it):
 * config from `$DATAMANCY_CONFIG` and the environment (exit 2 listing every invalid path),
 * logger, admin token, optional store, then the service, stopped cleanly on SIGTERM/SIGINT.
 */
export async function runStandalone<S extends z.ZodType<CommonConfig>>(
  options: StandaloneOptions<S>,
): Promise<void> {
  let config: z.output<S>;
  try {
    config = loadConfig({
      schema: options.schema,
      file: options.env.DATAMANCY_CONFIG,
      env: options.env,
      bindings: options.bindings,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const common: CommonConfig = config;
  const logger = createLogger({ level: common.logLevel, name: 'datamancy' });
  const { tokens } = createTokenRegistry(common.auth, join(common.dataDir, 'api-token'), logger);
  const store = options.needsStore
    ? await openStore({
        url: common.databaseUrl,
        sqlitePath: join(common.dataDir, 'datamancy.sqlite'),
      })
    : undefined;
  const running = await options.start({ config, logger, tokens, store });
  installShutdown(logger, [
    ...(store === undefined ? [] : [() => store.close()]),
    () => running.close(),
  ]);
}

/** Replaced by `true` when the services are bundled inside the `datamancy` CLI (scripts/bundle.ts). */
declare const __DATAMANCY_CLI_BUNDLE__: boolean | undefined;

/**
 * True when the module at `moduleUrl` is the program node was started with. Inside the CLI's
 * bundle every module shares the bundle's URL, so there it is never true: the CLI decides.
 */
export function isEntryModule(moduleUrl: string): boolean {
  if (typeof __DATAMANCY_CLI_BUNDLE__ !== 'undefined') return false;
  return moduleUrl === pathToFileURL(process.argv[1] ?? '').href;
}
