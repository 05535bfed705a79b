import { type Logger, type RunningServer, type Store, type TokenRegistry } from '@datamancy/core';
import { startToolServer } from '@datamancy/tool-server';
import type { DatamancyConfig } from './config.ts';

export interface ServiceRuntime {
  config: DatamancyConfig;
  logger: Logger;
  tokens: TokenRegistry;
  store: Store;
}

export interface ServiceSpec {
  name: string;
  defaultPort: number;
  description: string;
  start(rt: ServiceRuntime): Promise<{ server: RunningServer; close(): Promise<void> }>;
}

/** Every service `datamancy serve` can run, in start order. */
export const SERVICES: readonly ServiceSpec[] = [
  {
    name: 'tool-server',
    defaultPort: 8081,
    description: 'agent tools: OpenAI functions, MCP, chat proxy',
    start: (rt) =>
      startToolServer({
        common: rt.config,
        config: rt.config.toolServer,
        logger: rt.logger,
        tokens: rt.tokens,
        store: rt.store,
      }),
  },
];

export function findService(name: string): ServiceSpec | undefined {
  return SERVICES.find((s) => s.name === name);
}
