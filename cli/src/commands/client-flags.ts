import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ToolServerClient } from '@datamancy/clients';
import { loadDatamancyConfig, tokenFilePath, type ConfigFlags } from '../config.ts';
import { UsageError } from '../errors.ts';

export interface ClientFlags extends ConfigFlags {
  url?: string;
  token?: string;
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option(
      '--url <url>',
      'tool server URL (default $KFUN_URL or http://127.0.0.1:<toolServer.port>)',
    )
    .option(
      '--token <token>',
      'bearer token (default $DATAMANCY_API_TOKEN or <data-dir>/api-token)',
    )
    .option('-c, --config <file>', 'config file')
    .option('-d, --data-dir <dir>', 'data directory');
}

export function createToolServerClient(
  flags: ClientFlags,
  env: NodeJS.ProcessEnv,
): ToolServerClient {
  const config = loadDatamancyConfig(flags, env);
  const baseUrl = flags.url ?? env.KFUN_URL ?? `http://127.0.0.1:${config.toolServer.port}`;
  let token = flags.token ?? config.auth.adminToken;
  if (token === undefined) {
    const path = tokenFilePath(config);
    if (!existsSync(path)) {
      throw new UsageError(
        `no token: pass --token, set DATAMANCY_API_TOKEN, or run "datamancy serve" once to create ${path}`,
      );
    }
    token = readFileSync(path, 'utf8').trim();
  }
  return new ToolServerClient({ baseUrl, token });
}
