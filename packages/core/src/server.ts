import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from './logger.ts';

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8081`. */
  url: string;
  port: number;
  host: string;
  /** Stops accepting, lets in-flight requests finish for `graceMs`, then drops the rest. */
  close(graceMs?: number): Promise<void>;
}

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  logger?: Logger;
  name?: string;
  /**
   * A handler tried before the app on Node's own request objects (a hot path that must not
   * pay for the Web Request/Response conversion); returning false hands the request on.
   */
  front?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

// Hono's generic parameters vary per service; the server only needs `fetch`.
type AnyHono = Pick<Hono, 'fetch'>;

export async function listen(app: AnyHono, options: ListenOptions): Promise<RunningServer> {
  const listener = getRequestListener((request, env) => app.fetch(request, env));
  const front = options.front;
  const server: Server = createServer((req, res) => {
    if (front?.(req, res) !== true) void listener(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
    server.listen(options.port, options.host);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}`;
  options.logger?.info({ url }, `${options.name ?? 'server'} listening`);
  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    host: address.address,
    close(graceMs = 5_000) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

export type Closer = () => Promise<void> | void;

/**
 * Runs the closers (last registered first) on SIGINT/SIGTERM, then exits. A second signal
 * exits at once. Returns a function that runs the same shutdown on demand.
 */
export function installShutdown(
  logger: Logger,
  closers: Closer[],
  exit: (code: number) => void = (code) => process.exit(code),
): () => Promise<void> {
  let done: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    done ??= (async () => {
      for (const close of [...closers].reverse()) {
        try {
          await close();
        } catch (err) {
          logger.error({ err }, 'error during shutdown');
        }
      }
      logger.info('stopped');
    })();
    return done;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (done !== undefined) {
      logger.warn({ signal }, 'second signal; exiting now');
      exit(1);
      return;
    }
    logger.info({ signal }, 'shutting down');
    void shutdown().then(() => exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return shutdown;
}
