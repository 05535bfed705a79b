import type { Command } from 'commander';
import {
  createLogger,
  createTokenRegistry,
  installShutdown,
  openStore,
  type Closer,
} from '@datamancy/core';
import { loadDatamancyConfig, storePath, tokenFilePath, type ConfigFlags } from '../config.ts';
import { findService, SERVICES, type ServiceSpec } from '../services.ts';
import { UsageError } from '../errors.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the control plane: every service, or the ones named')
    .argument(
      '[services...]',
      `services to run (${SERVICES.map((s) => s.name).join(', ')}); default all`,
    )
    .option(
      '-c, --config <file>',
      'config file (YAML or JSON); default $DATAMANCY_CONFIG or ./datamancy.yaml',
    )
    .option('-d, --data-dir <dir>', 'data directory (default $DATAMANCY_DATA_DIR or ./data)')
    .option(
      '--set <key=value>',
      'override a config value, e.g. --set toolServer.port=9081 (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .addHelpText(
      'after',
      `\nServices and default ports:\n${SERVICES.map((s) => `  ${s.name.padEnd(16)} ${String(s.defaultPort).padEnd(6)} ${s.description}`).join('\n')}\n\nThe admin token comes from DATAMANCY_API_TOKEN; when unset it is generated into <data-dir>/api-token (mode 600).`,
    )
    .action(async (names: string[], flags: ConfigFlags) => {
      const chosen: ServiceSpec[] = [];
      for (const name of names.length === 0 ? SERVICES.map((s) => s.name) : names) {
        const spec = findService(name);
        if (spec === undefined) {
          throw new UsageError(
            `unknown service "${name}"; choose from ${SERVICES.map((s) => s.name).join(', ')}`,
          );
        }
        if (!chosen.includes(spec)) chosen.push(spec);
      }
      const loaded = loadDatamancyConfig(flags, process.env);
      const logger = createLogger({ level: loaded.logLevel, name: 'datamancy' });
      const { tokens, admin } = createTokenRegistry(loaded.auth, tokenFilePath(loaded), logger);
      // Services in this process call each other (the tool server's browser tools) with it.
      const config = { ...loaded, auth: { ...loaded.auth, adminToken: admin?.token } };
      const store = await openStore({ url: config.databaseUrl, sqlitePath: storePath(config) });
      const closers: Closer[] = [() => store.close()];
      installShutdown(logger, closers);
      const urls: Record<string, string> = {};
      for (const spec of chosen) {
        const running = await spec.start({ config, logger, tokens, store, urls });
        closers.push(() => running.close());
        urls[spec.name] = running.server.url
          .replace('://0.0.0.0:', '://127.0.0.1:')
          .replace('://[::]:', '://127.0.0.1:');
      }
      logger.info(
        { services: chosen.map((s) => s.name), dataDir: config.dataDir, tokenFile: admin?.path },
        'datamancy control plane is up',
      );
    });
}
