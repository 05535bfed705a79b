import { randomUUID } from 'node:crypto';
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  hasScope,
  parseBearer,
  type HttpMetrics,
  type Logger,
  type Scope,
  type TokenRegistry,
} from '@datamancy/core';
import type { Backend } from './backends.ts';
import type { ModelConfig, ModelRouterConfig } from './config.ts';
import { SchedulerError, type Scheduler } from './scheduler.ts';
import type { RouterMetrics } from './router.ts';

/**
 * The hot path, on Node's own HTTP objects: `POST /v1/chat/completions`, `/v1/completions`
 * and `/v1/embeddings` are authenticated (scope `models.use`), get a lease on their model, and
 * are passed to the
 * backend over keep-alive connections, the response piped back as it comes (streams chunk by
 * chunk, backpressure kept). A client that goes away cancels the upstream request; a backend
 * that breaks off a stream ends it with an OpenAI-shaped error event. Errors say who failed:
 * `type: router_error` / `upstream_error`, header `x-datamancy-error-source`.
 */

export const PROXIED_PATHS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);

/** What every `/v1/*` route of the router needs. */
export const MODELS_SCOPE: Scope = 'models.use';

const REQUEST_ID_RE = /^[\w.-]{1,128}$/;

export interface ProxyDeps {
  config: ModelRouterConfig;
  logger: Logger;
  tokens: TokenRegistry;
  scheduler: Scheduler;
  backends: Map<string, Backend>;
  models: Map<string, ModelConfig>;
  http: HttpMetrics;
  metrics: RouterMetrics;
}

export type Source = 'router' | 'upstream';

export interface ErrorExtra {
  param?: string;
  retryAfterS?: number;
  /** Scopes the caller lacks (403). */
  missing?: readonly string[];
}

/** OpenAI's error `type` for a status: who is at fault, and how. */
function errorType(status: number, source: Source): string {
  switch (status) {
    case 400:
    case 404:
    case 413:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    default:
      return `${source}_error`;
  }
}

/** The 403 for a caller without the scope a route needs, naming it. */
export function missingScope(name: string, scope: Scope): [string, string, ErrorExtra] {
  return [
    `this route needs the "${scope}" scope, which ${name} lacks`,
    'missing_scope',
    { missing: [scope] },
  ];
}

/**
 * An OpenAI-shaped error answer (`{error: {message, type, code, param, source}}`) with the
 * headers that say who failed; the one builder for both of the router's HTTP paths.
 */
export function openAiErrorAnswer(
  requestId: string,
  status: number,
  source: Source,
  message: string,
  code: string,
  extra: ErrorExtra = {},
): { body: string; headers: Record<string, string> } {
  const type = errorType(status, source);
  const body = JSON.stringify({
    error: {
      message,
      type,
      code,
      param: extra.param ?? null,
      source,
      ...(extra.missing === undefined ? {} : { missing: extra.missing }),
    },
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-request-id': requestId,
      'x-datamancy-error-source': source,
      ...(extra.retryAfterS === undefined ? {} : { 'retry-after': String(extra.retryAfterS) }),
    },
  };
}

function sendError(
  res: ServerResponse,
  requestId: string,
  status: number,
  source: Source,
  message: string,
  code: string,
  extra: ErrorExtra = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const answer = openAiErrorAnswer(requestId, status, source, message, code, extra);
  res.writeHead(status, answer.headers);
  res.end(answer.body);
}

/** An OpenAI-shaped error event ending a stream the upstream broke off. */
export function errorEvent(message: string, code: string): string {
  const event = {
    error: { message, type: 'upstream_error', code, param: null, source: 'upstream' },
  };
  return `data: ${JSON.stringify(event)}\n\ndata: [DONE]\n\n`;
}

export function createProxy(
  deps: ProxyDeps,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { config, scheduler, backends, models, http, metrics } = deps;
  // noDelay: each streamed chunk leaves at once (no Nagle wait for the previous one's ACK)
  const agent = new Agent({
    keepAlive: true,
    maxSockets: Infinity,
    maxFreeSockets: 1024,
    noDelay: true,
  });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });

  return (req, res) => {
    if (req.method !== 'POST') return false;
    const q = req.url?.indexOf('?') ?? -1;
    const path = q < 0 ? (req.url ?? '') : (req.url ?? '').slice(0, q);
    if (!PROXIED_PATHS.has(path)) return false;
    const started = performance.now();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    res.on('finish', () => {
      http.requests.inc({ method: 'POST', route: path, status: String(res.statusCode) });
      http.duration.observe({ method: 'POST', route: path }, (performance.now() - started) / 1000);
    });
    const token = parseBearer(req.headers.authorization);
    const identity = token === undefined ? undefined : deps.tokens.authenticate(token);
    if (identity === undefined) {
      req.resume();
      sendError(
        res,
        requestId,
        401,
        'router',
        'send Authorization: Bearer <token>',
        'unauthenticated',
      );
      return true;
    }
    if (!hasScope(identity, MODELS_SCOPE)) {
      req.resume(); // the body is never read, the model never loaded
      sendError(res, requestId, 403, 'router', ...missingScope(identity.name, MODELS_SCOPE));
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > config.maxBodyBytes) {
        if (!tooLarge) {
          tooLarge = true;
          sendError(
            res,
            requestId,
            413,
            'router',
            `the body is more than ${String(config.maxBodyBytes)} bytes`,
            'body_too_large',
          );
        }
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) return;
      void handle(res, path, requestId, Buffer.concat(chunks), started);
    });
    return true;
  };

  async function handle(
    res: ServerResponse,
    path: string,
    requestId: string,
    raw: Buffer,
    started: number,
  ): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new Error('not an object');
    } catch {
      sendError(res, requestId, 400, 'router', 'the body is not a JSON object', 'invalid_json');
      return;
    }
    if (typeof body.model !== 'string' || body.model === '') {
      sendError(
        res,
        requestId,
        400,
        'router',
        'model: required, a configured model name',
        'invalid_model',
        { param: 'model' },
      );
      return;
    }
    if (body.stream !== undefined && typeof body.stream !== 'boolean') {
      sendError(res, requestId, 400, 'router', 'stream: must be true or false', 'invalid_stream', {
        param: 'stream',
      });
      return;
    }
    const model = models.get(body.model);
    if (model === undefined) {
      sendError(
        res,
        requestId,
        404,
        'router',
        `no model "${body.model}"; GET /v1/models lists them`,
        'model_not_found',
        { param: 'model' },
      );
      return;
    }
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) gone.abort();
    };
    res.on('close', onClose);
    let lease;
    try {
      lease = await scheduler.acquire(model.name, gone.signal);
    } catch (err) {
      if (err instanceof SchedulerError) {
        sendError(res, requestId, err.status, 'router', err.message, err.code, {
          ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }),
          ...(err.status === 400 ? { param: 'model' } : {}),
        });
        return;
      }
      throw err;
    }
    metrics.queueWait.observe({ model: model.name }, lease.queuedMs / 1000);
    const endpoint = path.slice('/v1/'.length);
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      lease.release();
      metrics.latency.observe(
        { model: model.name, endpoint },
        (performance.now() - started) / 1000,
      );
    };
    const backend = backends.get(model.name);
    const root = backend?.root;
    if (root === undefined || gone.signal.aborted) {
      done();
      sendError(
        res,
        requestId,
        503,
        'router',
        `model ${model.name} is not reachable right now`,
        'backend_gone',
        { retryAfterS: 1 },
      );
      return;
    }
    const payload =
      model.upstreamModel === undefined
        ? raw
        : Buffer.from(JSON.stringify({ ...body, model: model.upstreamModel }));
    const target = new URL(`${root}${path}`);
    const send = target.protocol === 'https:' ? httpsRequest : request;
    const attempt = (retry: boolean): void => {
      const upstream = send({
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: target.protocol === 'https:' ? httpsAgent : agent,
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          'x-request-id': requestId,
          ...(backend?.apiKey === undefined ? {} : { authorization: `Bearer ${backend.apiKey}` }),
        },
      });
      // idle between chunks (or before the answer) beyond the limit: give up with 504
      let idled = false;
      upstream.setTimeout(config.upstreamTimeoutMs, () => {
        idled = true;
        upstream.destroy(new Error('idle'));
      });
      const cancel = (): void => {
        if (!res.writableFinished) upstream.destroy(); // the client went away: cancel upstream
      };
      res.once('close', cancel);
      upstream.once('close', () => res.off('close', cancel));
      upstream.on('response', (ur: IncomingMessage) => {
        const headers: Record<string, string> = { 'x-request-id': requestId };
        for (const h of ['content-type', 'cache-control', 'content-length'] as const) {
          const v = ur.headers[h];
          if (typeof v === 'string') headers[h] = v;
        }
        const status = ur.statusCode ?? 502;
        if (status >= 400) headers['x-datamancy-error-source'] = 'upstream';
        const streaming = (headers['content-type'] ?? '').includes('text/event-stream');
        if (streaming) delete headers['content-length'];
        res.writeHead(status, headers);
        res.flushHeaders();
        ur.pipe(res, { end: false });
        ur.on('end', () => {
          res.end();
          done();
        });
        ur.on('close', () => {
          if (ur.complete) return;
          done();
          if (res.destroyed || res.writableEnded) return;
          const idle = idled;
          const message = idle
            ? `model ${model.name} stopped sending for ${String(config.upstreamTimeoutMs)} ms`
            : `model ${model.name} broke off the response`;
          deps.logger.warn({ model: model.name, requestId }, message);
          if (streaming)
            res.end(errorEvent(message, idle ? 'upstream_timeout' : 'upstream_broken'));
          else res.destroy();
        });
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (res.headersSent) return; // mid-response: the response's close handler reports it
        // a keep-alive connection the backend closed just as we reused it: once more, afresh
        if (!retry && upstream.reusedSocket && err.code === 'ECONNRESET' && !gone.signal.aborted) {
          attempt(true);
          return;
        }
        done();
        if (gone.signal.aborted) return;
        const idle = idled;
        sendError(
          res,
          requestId,
          idle ? 504 : 502,
          'upstream',
          idle
            ? `model ${model.name}: no answer within ${String(config.upstreamTimeoutMs)} ms`
            : `model ${model.name}: ${err.message}`,
          idle ? 'upstream_timeout' : 'upstream_unreachable',
        );
      });
      upstream.end(payload);
    };
    attempt(false);
  }
}
