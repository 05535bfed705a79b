import { z } from 'zod';
import { CAPABILITIES, type EnvBinding } from '@datamancy/core';

export const ToolServerConfigSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8081),
  /** Overrides the shared bind address for this service. */
  host: z.string().min(1).optional(),
  /** Capabilities this server may use; unset means the read-only ones. */
  allowCaps: z.array(z.enum(CAPABILITIES)).optional(),
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  defaultTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  maxOutputBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** Extra hosts URL-fetching tools may reach, besides loopback and the stack's own names. */
  allowHosts: z.array(z.string().min(1)).default([]),
  /** Per-plugin settings, keyed by plugin id. */
  plugins: z.record(z.string(), z.unknown()).default({}),
});
export type ToolServerConfig = z.infer<typeof ToolServerConfigSchema>;

export const TOOL_SERVER_ENV_BINDINGS: readonly EnvBinding[] = [
  { env: 'KFUNCDB_ALLOW_CAPS', path: 'toolServer.allowCaps', kind: 'list' },
  { env: 'TOOLSERVER_ALLOW_CAPS', path: 'toolServer.allowCaps', kind: 'list' },
  { env: 'TOOLSERVER_PORT', path: 'toolServer.port', kind: 'int' },
  { env: 'TOOLSERVER_HOST', path: 'toolServer.host' },
  { env: 'TOOLSERVER_ALLOW_HOSTS', path: 'toolServer.allowHosts', kind: 'list' },
  { env: 'PROOFS_DIR', path: 'toolServer.plugins.browser.proofsDir' },
  { env: 'BROWSER_URL', path: 'toolServer.plugins.browser.url' },
  { env: 'BROWSER_TOKEN', path: 'toolServer.plugins.browser.token' },
  { env: 'DATAMANCY_SECRET_DIGESTS_FILE', path: 'toolServer.plugins.host.redactDigestsFile' },
];
