import { randomBytes } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { endToEndHeaders, SsrfError, type SsrfGuard } from '@datamancy/core';

/**
 * The forward proxy every Chromium connection goes through. Playwright's `route` handler does not
 * see redirect hops (nor WebSockets, nor what a service worker fetches), so the enforcement point
 * is here: every plain-HTTP request and every CONNECT tunnel is checked by the SSRF guard, the
 * name is resolved by the guard's `lookup`, and the socket goes to the very address that was
 * checked (no second resolution inside Chromium, so no DNS rebinding window).
 *
 * Answers the proxy makes itself carry `x-datamancy-guard: <token> refused=<reason>` or
 * `<token> error=<code>`; the token is random per proxy, so a page cannot forge the header.
 */

export const GUARD_HEADER = 'x-datamancy-guard';

export interface GuardProxyStats {
  /** Plain-HTTP requests forwarded. */
  requests: number;
  /** CONNECT tunnels opened. */
  tunnels: number;
  /** Requests and tunnels the guard refused (no connection made). */
  refused: number;
  /** Upstream connections that failed (refused port, DNS failure...). */
  failed: number;
}

export interface GuardProxy {
  url: string;
  token: string;
  stats: GuardProxyStats;
  close(): Promise<void>;
}

export interface GuardVerdict {
  kind: 'refused' | 'error';
  detail: string;
}

/** Reads the proxy's own marker; undefined unless it carries this proxy's token. */
export function parseGuardHeader(
  value: string | undefined,
  token: string,
): GuardVerdict | undefined {
  const match = value === undefined ? null : /^(\S+) (refused|error)=(\S+)$/.exec(value);
  if (match === null || match[1] !== token) return undefined;
  return { kind: match[2] as GuardVerdict['kind'], detail: match[3] ?? '' };
}

function ssrfCause(err: unknown): SsrfError | undefined {
  if (err instanceof SsrfError) return err;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof SsrfError ? cause : undefined;
}

function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(authority);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const port = Number(match[2]);
  return port > 0 && port < 65536 ? { host: match[1], port } : undefined;
}

export async function startGuardProxy(guard: SsrfGuard): Promise<GuardProxy> {
  const token = randomBytes(16).toString('hex');
  const stats: GuardProxyStats = { requests: 0, tunnels: 0, refused: 0, failed: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const tunnels = new Set<Socket | Duplex>();

  const answer = (res: ServerResponse, status: number, verdict: string, text: string): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      [GUARD_HEADER]: `${token} ${verdict}`,
      'cache-control': 'no-store',
    });
    res.end(`${text}\n`);
  };
  const refuse = (res: ServerResponse, err: SsrfError): void => {
    stats.refused++;
    answer(res, 403, `refused=${err.reason}`, err.message);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      answer(res, 400, 'error=BAD_PROXY_REQUEST', 'expected an absolute http URL');
      return;
    }
    if (url.protocol !== 'http:') {
      answer(
        res,
        400,
        'error=BAD_PROXY_REQUEST',
        'only http URLs are forwarded; https uses CONNECT',
      );
      return;
    }
    try {
      guard.checkUrl(url);
    } catch (err) {
      if (err instanceof SsrfError) return refuse(res, err);
      throw err;
    }
    stats.requests++;
    const upstream = httpRequest({
      protocol: 'http:',
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 80 : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers: endToEndHeaders(req.headers),
      lookup: guard.lookup,
      agent,
    });
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, endToEndHeaders(up.headers));
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      const refused = ssrfCause(err);
      if (refused !== undefined) return refuse(res, refused);
      stats.failed++;
      answer(res, 502, `error=${err.code ?? 'UPSTREAM_FAILED'}`, `proxy: ${err.message}`);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server = createServer(onRequest);
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const reply = (status: string, verdict: string): void => {
      client.end(`HTTP/1.1 ${status}\r\n${GUARD_HEADER}: ${token} ${verdict}\r\n\r\n`);
    };
    client.on('error', () => client.destroy());
    const target = parseAuthority(req.url ?? '');
    if (target === undefined) return reply('400 Bad Request', 'error=BAD_PROXY_REQUEST');
    try {
      guard.checkHost(target.host);
    } catch (err) {
      if (!(err instanceof SsrfError)) throw err;
      stats.refused++;
      return reply('403 Forbidden', `refused=${err.reason}`);
    }
    const upstream = connect({
      host: target.host.replace(/^\[|\]$/g, ''),
      port: target.port,
      lookup: guard.lookup,
    });
    tunnels.add(client).add(upstream);
    const forget = (): void => {
      tunnels.delete(client);
      tunnels.delete(upstream);
    };
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      stats.tunnels++;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      forget();
      if (connected) {
        client.destroy();
        return;
      }
      const refused = ssrfCause(err);
      if (refused !== undefined) {
        stats.refused++;
        reply('403 Forbidden', `refused=${refused.reason}`);
      } else {
        stats.failed++;
        reply('502 Bad Gateway', `error=${err.code ?? 'UPSTREAM_FAILED'}`);
      }
    });
    upstream.on('close', () => {
      forget();
      if (connected) client.destroy();
    });
    client.on('close', () => {
      forget();
      upstream.destroy();
    });
  });
  // WebSockets through a proxy use CONNECT; a direct upgrade request is not ours to forward.
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of tunnels) socket.destroy();
        tunnels.clear();
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
