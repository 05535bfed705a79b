import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ProbeClient, ToolServerClient } from '@datamancy/clients';
import {
  loadDatamancyConfig,
  tokenFilePath,
  type ConfigFlags,
  type DatamancyConfig,
} from '../config.ts';
import { UsageError } from '../errors.ts';

export interface ClientFlags extends ConfigFlags {
  url?: string;
  token?: string;
}

export function addClientOptions(
  cmd: Command,
  urlHelp = 'tool server URL (default $KFUN_URL or http://127.0.0.1:<toolServer.port>)',
): Command {
  return cmd
    .option('--url <url>', urlHelp)
    .option(
      '--token <token>',
      'bearer token (default $DATAMANCY_API_TOKEN or <data-dir>/api-token)',
    )
    .option('-c, --config <file>', 'config file')
    .option('-d, --data-dir <dir>', 'data directory');
}

/** --token, else the configured admin token, else the token file `serve` wrote. */
function resolveToken(flags: ClientFlags, config: DatamancyConfig): string {
  const token = flags.token ?? config.auth.adminToken;
  if (token !== undefined) return token;
  const path = tokenFilePath(config);
  if (!existsSync(path)) {
    throw new UsageError(
      `no token: pass --token, set DATAMANCY_API_TOKEN, or run "datamancy serve" once to create ${path}`,
    );
  }
  return readFileSync(path, 'utf8').trim();
}

export function createToolServerClient(
  flags: ClientFlags,
  env: NodeJS.ProcessEnv,
): ToolServerClient {
  const config = loadDatamancyConfig(flags, env);
  const baseUrl = flags.url ?? env.KFUN_URL ?? `http://127.0.0.1:${config.toolServer.port}`;
  return new ToolServerClient({ baseUrl, token: resolveToken(flags, config) });
}

export function createProbeClient(flags: ClientFlags, env: NodeJS.ProcessEnv): ProbeClient {
  const config = loadDatamancyConfig(flags, env);
  const baseUrl = flags.url ?? env.PROBE_URL ?? `http://127.0.0.1:${config.probe.port}`;
  // A round may wait on slow checks (browser, timeouts); give it room.
  return new ProbeClient({ baseUrl, token: resolveToken(flags, config), timeoutMs: 300_000 });
}
