import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { endToEndHeaders, type Logger, type RunningServer } from '@datamancy/core';
import type { DockerProxyConfig } from './config.ts';
import { ExecRegistry } from './exec-registry.ts';
import { jsonAnswer, policyRequest, rawAnswer, readBody, type BodyRead } from './http-io.ts';
import {
  decide,
  denialMessage,
  type Decision,
  type PolicyFacts,
  type PolicyOptions,
  type PolicyRequest,
} from './policy.ts';
import { inspectContainer, pingEngine } from './upstream.ts';

/**
 * The socket proxy's I/O: Node's own HTTP server, so bodies and answers stream through
 * untouched (logs with `follow`, `/events`, streamed stats) and `Upgrade` requests (exec start
 * with `hijack`) become a plain two-way pipe once the policy allows them. Every request is
 * decided by `decide` (policy.ts) before a byte reaches the engine.
 */

export interface DockerProxyStats {
  allowed: number;
  denied: number;
  /** Upgraded (hijacked) connections opened. */
  upgraded: number;
  /** Requests the engine could not be reached for. */
  failed: number;
}

export interface StartDockerProxyOptions {
  config: DockerProxyConfig;
  /** The bind address when the config names none. */
  defaultHost: string;
  logger: Logger;
  /** Exec ids this proxy created; a fresh registry when omitted. */
  execs?: ExecRegistry;
}

export interface RunningDockerProxy {
  server: RunningServer;
  stats: DockerProxyStats;
  execs: ExecRegistry;
  close(): Promise<void>;
}

/** The engine answers exec create with `{"Id": …}`; nothing that size needs streaming. */
const MAX_EXEC_CREATE_ANSWER = 64 * 1024;

export async function startDockerProxy(
  options: StartDockerProxyOptions,
): Promise<RunningDockerProxy> {
  const { config } = options;
  const logger = options.logger.child({ service: 'docker-proxy', policy: config.policy });
  const execs = options.execs ?? new ExecRegistry();
  const stats: DockerProxyStats = { allowed: 0, denied: 0, upgraded: 0, failed: 0 };
  const policy: PolicyOptions = {
    policy: config.policy,
    execAllowlist: config.execAllowlist,
    bodyLimitBytes: config.bodyLimitBytes,
  };
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 16 });
  const socketPath = config.socket;
  const upgraded = new Set<Duplex>();

  const logDenial = (decision: Extract<Decision, { action: 'deny' }>): void => {
    stats.denied++;
    const [method, path] = decision.display.split(' ', 2);
    logger.warn(
      { method, path, route: decision.route, status: decision.status, reason: decision.reason },
      'docker-proxy refused a request',
    );
  };

  const logAllowed = (decision: Extract<Decision, { action: 'allow' }>, status: number): void => {
    const [method, path] = decision.display.split(' ', 2);
    const line = { method, path, route: decision.route, status };
    // reads are frequent (every probe round); changes are what an operator looks for
    if (method === 'GET' || method === 'HEAD') logger.debug(line, 'docker-proxy forwarded');
    else logger.info(line, 'docker-proxy forwarded');
  };

  /** Asks the policy, gathering each fact it needs once. */
  const settle = async (
    request: PolicyRequest,
    body: () => Promise<BodyRead>,
  ): Promise<
    Exclude<Decision, { action: 'need' }> | { action: 'fail'; status: 413 | 502; message: string }
  > => {
    let facts: PolicyFacts = {};
    for (let round = 0; round < 4; round++) {
      const decision = decide(policy, request, facts);
      if (decision.action !== 'need') return decision;
      if (decision.need === 'body') {
        const read = await body();
        if (read === 'too-large') {
          return {
            action: 'fail',
            status: 413,
            message: `datamancy docker-proxy: the body of ${request.method} ${request.url.split('?')[0] ?? ''} is over ${config.bodyLimitBytes} bytes`,
          };
        }
        facts = { ...facts, body: read };
      } else if (decision.need === 'container') {
        try {
          facts = { ...facts, container: await inspectContainer(socketPath, decision.id) };
        } catch (err) {
          return {
            action: 'fail',
            status: 502,
            message: `datamancy docker-proxy: could not inspect ${decision.id} through ${socketPath}: ${(err as Error).message}`,
          };
        }
      } else {
        facts = { ...facts, execKnown: execs.lookup(decision.id) !== undefined };
      }
    }
    throw new Error('the policy asked for more facts than there are kinds');
  };

  const healthz = async (res: ServerResponse): Promise<void> => {
    const ping = await pingEngine(socketPath);
    const body = JSON.stringify(
      ping.ok
        ? { status: 'ok', policy: config.policy }
        : { status: 'unavailable', policy: config.policy, reason: ping.reason },
    );
    res.writeHead(ping.ok ? 200 : 503, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...(ping.ok ? {} : { 'retry-after': '10' }),
    });
    res.end(body);
  };

  const answer = (res: ServerResponse, status: number, message: string): void => {
    const { head, body } = jsonAnswer(status, message);
    // an unread request body may remain: do not reuse this connection
    res.writeHead(status, { ...head, connection: 'close' });
    res.end(body);
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    decision: Extract<Decision, { action: 'allow' }>,
  ): void => {
    const headers = endToEndHeaders(req.headers);
    let payload: string | undefined;
    if (decision.body.kind === 'json') {
      payload = JSON.stringify(decision.body.value);
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    } else if (decision.body.kind === 'none') {
      delete headers['content-type'];
      headers['content-length'] = 0;
    }
    const upstream = httpRequest(
      { socketPath, agent, method: req.method, path: decision.url, headers },
      (upRes) => {
        const status = upRes.statusCode ?? 502;
        logAllowed(decision, status);
        if (decision.trackExec && status === 201) {
          const chunks: Buffer[] = [];
          let size = 0;
          upRes.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_EXEC_CREATE_ANSWER) chunks.push(chunk);
          });
          upRes.on('end', () => {
            const body = Buffer.concat(chunks);
            try {
              const id = (JSON.parse(body.toString('utf8')) as { Id?: unknown }).Id;
              if (typeof id === 'string' && /^[A-Za-z0-9]{1,128}$/.test(id)) {
                execs.remember(id, decision.subject ?? '');
              }
            } catch (err) {
              logger.warn({ err }, 'exec create answered without a JSON Id; it cannot be started');
            }
            res.writeHead(status, {
              ...endToEndHeaders(upRes.headers),
              'content-length': body.length,
            });
            res.end(body);
          });
          return;
        }
        res.writeHead(status, upRes.statusMessage, endToEndHeaders(upRes.headers));
        // a stream (events, logs with follow) may not send a byte for a while: headers now
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    let clientGone = false;
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // destroyed below because the client left first: nothing failed
      if (clientGone) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      stats.failed++;
      logger.error({ err: err.message, code: err.code, socketPath }, 'engine unreachable');
      answer(
        res,
        502,
        `datamancy docker-proxy: the engine at ${socketPath} did not answer (${err.code ?? err.message})`,
      );
    });
    // the client went away (a follow stream closed): stop the engine's side too
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      upstream.destroy();
    });
    if (payload !== undefined) upstream.end(payload);
    else if (decision.body.kind === 'none') upstream.end();
    else req.pipe(upstream);
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      await healthz(res);
      return;
    }
    const decision = await settle(policyRequest(req, false), () =>
      readBody(req, config.bodyLimitBytes),
    );
    if (decision.action === 'fail') {
      if (decision.status === 502) stats.failed++;
      else stats.denied++;
      logger.warn({ method: req.method, path, status: decision.status }, decision.message);
      answer(res, decision.status, decision.message);
      return;
    }
    if (decision.action === 'deny') {
      logDenial(decision);
      answer(res, decision.status, denialMessage(config.policy, decision));
      return;
    }
    stats.allowed++;
    forward(req, res, decision);
  };

  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    socket.on('error', () => socket.destroy());
    const decision = await settle(policyRequest(req, true), () =>
      // upgrade routes stream their body; none is read
      Promise.resolve({ kind: 'invalid', reason: 'a body cannot be inspected behind an upgrade' }),
    );
    if (decision.action === 'fail') {
      stats.failed++;
      rawAnswer(socket, decision.status, decision.message);
      return;
    }
    if (decision.action === 'deny') {
      logDenial(decision);
      rawAnswer(socket, decision.status, denialMessage(config.policy, decision));
      return;
    }
    stats.allowed++;
    const engine = connect(socketPath);
    let connected = false;
    engine.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) {
        socket.destroy();
        return;
      }
      stats.failed++;
      logger.error({ err: err.message, code: err.code, socketPath }, 'engine unreachable');
      rawAnswer(
        socket,
        502,
        `datamancy docker-proxy: the engine at ${socketPath} did not answer (${err.code ?? err.message})`,
      );
    });
    engine.once('connect', () => {
      connected = true;
      stats.upgraded++;
      logAllowed(decision, 101);
      // The request as the client sent it (its framing and Upgrade headers included), at the
      // target the policy chose; then the rest of the stream both ways.
      const lines: string[] = [`${req.method ?? 'POST'} ${decision.url} HTTP/1.1`];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        lines.push(`${req.rawHeaders[i] ?? ''}: ${req.rawHeaders[i + 1] ?? ''}`);
      }
      engine.write(`${lines.join('\r\n')}\r\n\r\n`);
      upgraded.add(socket);
      if (config.policy === 'full') {
        if (head.length > 0) engine.write(head);
        socket.pipe(engine);
      } else {
        // Exactly the announced body, then nothing: whatever the engine answers (101, or an
        // error after which its connection would read another request), no further client
        // bytes reach it. The control-plane policy never attaches stdin, so none are needed.
        let remaining = Number(req.headers['content-length'] ?? 0);
        const take = (chunk: Buffer): void => {
          if (remaining <= 0) return;
          const part = chunk.subarray(0, remaining);
          remaining -= part.length;
          engine.write(part);
        };
        take(head);
        socket.on('data', take);
        // an answer other than 101 ends the exchange: let the engine close its side
        let status = '';
        const onStatus = (chunk: Buffer): void => {
          status += chunk.subarray(0, 12).toString('latin1');
          if (status.length < 12) return;
          engine.off('data', onStatus);
          if (!/^HTTP\/1\.[01] 101/.test(status)) engine.end();
        };
        engine.on('data', onStatus);
      }
      engine.pipe(socket);
      const done = (): void => {
        upgraded.delete(socket);
        socket.destroy();
        engine.destroy();
      };
      socket.once('close', done);
      engine.once('close', done);
    });
  };

  const server: Server = createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      logger.error({ err }, 'docker-proxy request failed');
      if (!res.headersSent) answer(res, 500, 'datamancy docker-proxy: internal error');
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch((err: unknown) => {
      logger.error({ err }, 'docker-proxy upgrade failed');
      socket.destroy();
    });
  });
  // streams (events, logs with follow) stay open as long as the client wants them
  server.requestTimeout = 0;

  const host = config.host ?? options.defaultHost;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
    server.listen(config.port, host);
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}`;
  logger.info({ url, socket: socketPath }, 'docker-proxy listening');

  let closing: Promise<void> | undefined;
  const close = (graceMs = 5_000): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }, graceMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        agent.destroy();
        resolve();
      });
      server.closeIdleConnections();
      // hijacked exec streams are no longer the server's: end them ourselves
      for (const socket of upgraded) socket.destroy();
    });
    return closing;
  };
  return {
    server: { url, port: address.port, host: address.address, close },
    stats,
    execs,
    close: () => close(),
  };
}
