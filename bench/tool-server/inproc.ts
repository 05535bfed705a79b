import { join } from 'node:path';
import {
  CommonConfigSchema,
  createSilentLogger,
  createSsrfGuard,
  openSqliteStore,
  READ_CAPABILITIES,
  TokenRegistry,
  type Store,
} from '@datamancy/core';
import {
  AuditLog,
  builtinPlugins,
  createApp,
  effectiveAllowHosts,
  loadPlugins,
  TOOL_SERVER_VERSION,
  ToolServerConfigSchema,
  type ToolServerApp,
} from '@datamancy/tool-server';

/**
 * The tool server's app and dispatcher wired as `startToolServer` wires them (built-in plugins,
 * SQLite audit in `dataDir`, metrics), without listening: the in-process reference rows.
 */
export async function inProcessServer(
  dataDir: string,
  adminToken: string,
): Promise<ToolServerApp & { store: Store }> {
  const common = CommonConfigSchema.parse({ dataDir, logLevel: 'silent', auth: { adminToken } });
  const config = ToolServerConfigSchema.parse({ host: '127.0.0.1', port: 0 });
  const logger = createSilentLogger();
  const store = openSqliteStore(join(dataDir, 'datamancy.sqlite'));
  const catalog = loadPlugins(builtinPlugins(common, config), {
    allowCaps: new Set(READ_CAPABILITIES),
    hostVersion: TOOL_SERVER_VERSION,
    logger,
  });
  const audit = await AuditLog.open(store);
  const { app, dispatcher } = createApp({
    config,
    llm: common.llm,
    logger,
    tokens: new TokenRegistry(adminToken, common.auth.tokens),
    catalog,
    audit,
    guard: createSsrfGuard({ allowHosts: effectiveAllowHosts(common, config) }),
  });
  return { app, dispatcher, store };
}
