import type { Command } from 'commander';
import {
  createLogger,
  createTokenRegistry,
  openSqliteStore,
  TokenRegistry,
  installShutdown,
  openStore,
  type Closer,
} from '@datamancy/core';
import { loadDatamancyConfig, storePath, tokenFilePath, type ConfigFlags } from '../config.ts';
import { createServiceTokens } from '../service-tokens.ts';
import { DEFAULT_SERVICES, findService, SERVICES, type ServiceSpec } from '../services.ts';
import { UsageError } from '../errors.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the control plane: every service, or the ones named')
    .argument(
      '[services...]',
      `services to run (${SERVICES.map((s) => s.name).join(', ')}); default ${DEFAULT_SERVICES.map((s) => s.name).join(', ')}`,
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
      `\nServices and default ports:\n${SERVICES.map((s) => `  ${s.name.padEnd(16)} ${String(s.defaultPort).padEnd(6)} ${s.description}`).join('\n')}\n\nThe admin token comes from DATAMANCY_API_TOKEN; when unset it is generated into <data-dir>/api-token (mode 600). It is for operators: the services call each other with tokens made at each start, each with only the scopes its calls need (serve.probe-to-tool-server, serve.probe-to-browser, serve.tool-server-to-browser).`,
    )
    .action(async (names: string[], flags: ConfigFlags) => {
      const chosen: ServiceSpec[] = [];
      for (const name of names.length === 0 ? DEFAULT_SERVICES.map((s) => s.name) : names) {
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
      // The services call each other with least-scope tokens made for this start, never with
      // the admin token, which no service is given (it only checks tokens, via the registry).
      const service = createServiceTokens();
      // Stateless services alone (the socket proxy) need no identity and no data directory.
      const stateless = chosen.every((s) => s.stateless === true);
      const { tokens, admin } = stateless
        ? { tokens: new TokenRegistry(undefined), admin: undefined }
        : createTokenRegistry(
            { ...loaded.auth, tokens: [...loaded.auth.tokens, ...service.entries] },
            tokenFilePath(loaded),
            logger,
          );
      const config = { ...loaded, auth: { ...loaded.auth, adminToken: undefined } };
      const store = stateless
        ? openSqliteStore(':memory:')
        : await openStore({ url: config.databaseUrl, sqlitePath: storePath(config) });
      const closers: Closer[] = [() => store.close()];
      installShutdown(logger, closers);
      const urls: Record<string, string> = {};
      for (const spec of chosen) {
        const running = await spec.start({
          config,
          logger,
          tokens,
          store,
          urls,
          serviceTokens: service.tokens,
        });
        closers.push(() => running.close());
        urls[spec.name] = running.server.url
          .replace('://0.0.0.0:', '://127.0.0.1:')
          .replace('://[::]:', '://127.0.0.1:');
      }
      logger.info(
        {
          services: chosen.map((s) => s.name),
          dataDir: config.dataDir,
          tokenFile: admin?.path,
          serviceTokens: service.entries.map((e) => e.name),
        },
        'datamancy control plane is up',
      );
    });
}
