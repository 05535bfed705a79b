/**
 * Child process: our tool server as `serve tool-server` runs it (SQLite store, audit, auth,
 * metrics, built-in plugins), on 127.0.0.1 and a free port. Logs (warn and up) go to stderr.
 *
 * Env: BENCH_DATA_DIR (a temp dir the parent owns), BENCH_ADMIN_TOKEN.
 */
import { join } from 'node:path';
import { CommonConfigSchema, createLogger, openSqliteStore, TokenRegistry } from '@datamancy/core';
import { startToolServer, ToolServerConfigSchema } from '@datamancy/tool-server';
import { announce, exitWithParent } from './child-io.ts';

const dataDir = process.env.BENCH_DATA_DIR;
const adminToken = process.env.BENCH_ADMIN_TOKEN;
if (dataDir === undefined || adminToken === undefined) {
  throw new Error('BENCH_DATA_DIR and BENCH_ADMIN_TOKEN must be set');
}

const common = CommonConfigSchema.parse({
  dataDir,
  host: '127.0.0.1',
  logLevel: 'warn',
  auth: { adminToken },
});
const config = ToolServerConfigSchema.parse({ host: '127.0.0.1', port: 0 });
const logger = createLogger({ level: common.logLevel, name: 'bench', destination: process.stderr });
const store = openSqliteStore(join(dataDir, 'datamancy.sqlite'));
const running = await startToolServer({
  common,
  config,
  logger,
  tokens: new TokenRegistry(adminToken, common.auth.tokens),
  store,
});
exitWithParent(async () => {
  await running.close();
  await store.close();
});
announce(running.server.url);
