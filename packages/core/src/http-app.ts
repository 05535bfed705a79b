import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { AppError, toErrorBody, toValidationIssues, validationError } from './errors.ts';
import { parseBearer, type Identity, type Scope, hasScope, type TokenRegistry } from './auth.ts';
import type { Logger } from './logger.ts';
import { createHttpMetrics, type HttpMetrics } from './metrics.ts';
import { requireSameOrigin } from './same-origin.ts';

/** Per-request values every service handler can read with `c.get(...)`. */
export interface ServiceVariables {
  requestId: string;
  identity: Identity;
  log: Logger;
}
export interface ServiceEnv {
  Variables: ServiceVariables;
}
export type ServiceApp = Hono<ServiceEnv>;
export type ServiceContext = Context<ServiceEnv>;

export interface ServiceAppOptions {
  service: string;
  version: string;
  logger: Logger;
  tokens: TokenRegistry;
  metrics?: HttpMetrics;
  /**
   * Another way to prove identity (a session cookie, SSO headers from a trusted proxy), tried
   * when the request carries no bearer token. Identities it returns with `via` `session` or
   * `sso` may change things only from same-origin pages (`requireSameOrigin`).
   */
  authenticate?: (c: ServiceContext) => Identity | undefined | Promise<Identity | undefined>;
  /** Paths answered without authentication besides `/healthz` (e.g. a login page). */
  publicPaths?: readonly string[];
  /** The answer to an unauthenticated request instead of 401 (e.g. a redirect to a login page). */
  unauthenticated?: (c: ServiceContext) => Response | undefined;
  /** Extra detail for `/healthz`; throwing or returning ok=false answers 503. */
  health?: () => Promise<HealthDetail> | HealthDetail;
}

export interface HealthDetail {
  ok: boolean;
  [key: string]: unknown;
}

const REQUEST_ID_RE = /^[\w.-]{1,128}$/;
const startedAt = Date.now();

function routeOf(c: Context<ServiceEnv>): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return routes[routes.length - 1]?.path ?? 'unmatched';
}

/**
 * The Hono app every service starts from: request id, access log, metrics (`/metrics` needs
 * `metrics.read`), bearer auth on every route but `/healthz`, one `onError` rendering the JSON
 * error envelope.
 */
export function createServiceApp(options: ServiceAppOptions): {
  app: ServiceApp;
  metrics: HttpMetrics;
} {
  const metrics = options.metrics ?? createHttpMetrics(options.service);
  const app = new Hono<ServiceEnv>();
  const base = options.logger;

  app.use('*', async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given !== undefined && REQUEST_ID_RE.test(given) ? given : randomUUID();
    c.set('requestId', requestId);
    c.set('log', base.child({ requestId }));
    c.header('x-request-id', requestId);
    const start = performance.now();
    await next();
    const seconds = (performance.now() - start) / 1000;
    // Hono types a middleware's input as `any`; routeOf only reads the matched routes.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
    const route = routeOf(c);
    const status = c.res.status;
    metrics.requests.inc({ method: c.req.method, route, status: String(status) });
    metrics.duration.observe({ method: c.req.method, route }, seconds);
    const identity = c.get('identity') as Identity | undefined;
    const line = {
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round(seconds * 1e4) / 10,
      caller: identity?.name,
    };
    if (status >= 500) c.get('log').error(line, 'request failed');
    else c.get('log').debug(line, 'request');
  });

  app.get('/healthz', async (c) => {
    let detail: HealthDetail = { ok: true };
    try {
      if (options.health !== undefined) detail = await options.health();
    } catch (err) {
      c.get('log').warn({ err }, 'health check failed');
      detail = { ok: false, error: (err as Error).message };
    }
    const { ok, ...rest } = detail;
    return c.json(
      {
        status: ok ? 'ok' : 'unhealthy',
        service: options.service,
        version: options.version,
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
        ...rest,
      },
      ok ? 200 : 503,
    );
  });

  const publicPaths = new Set(options.publicPaths ?? []);
  app.use('*', async (c, next) => {
    if (publicPaths.has(c.req.path)) {
      await next();
      return;
    }
    const token = parseBearer(c.req.header('authorization'));
    // Hono types a middleware's input as `any`; the hooks read headers and the peer only.
    const ctx = c as unknown as ServiceContext;
    const identity =
      token === undefined ? await options.authenticate?.(ctx) : options.tokens.authenticate(token);
    if (identity === undefined) {
      const answer = token === undefined ? options.unauthenticated?.(ctx) : undefined;
      if (answer !== undefined) return answer;
      c.header('WWW-Authenticate', `Bearer realm="datamancy"`);
      throw new AppError(
        'UNAUTHORIZED',
        token === undefined
          ? 'missing bearer token (Authorization: Bearer <token>)'
          : 'unknown or revoked token',
      );
    }
    c.set('identity', identity);
    // What a browser attaches by itself must not let another site change things.
    if (identity.via === 'session' || identity.via === 'sso') requireSameOrigin(c);
    await next();
  });

  // Metrics name every route, model and service: a scope of their own (`metrics.read`).
  app.get('/metrics', async (c) => {
    requireScope(c, 'metrics.read');
    c.header('content-type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  app.notFound((c) => {
    throw new AppError('NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`);
  });

  app.onError((err, c) => renderError(err, c));

  return { app, metrics };
}

export function renderError(err: unknown, c: Context): Response {
  const requestId = c.get('requestId') as string | undefined;
  const log = (c.get('log') as Logger | undefined) ?? undefined;
  let appError: AppError;
  if (err instanceof AppError) {
    appError = err;
  } else if (err instanceof HTTPException) {
    appError = fromHttpException(err);
  } else {
    log?.error({ err }, 'unhandled error');
    appError = new AppError('INTERNAL', 'internal error; see the service log for this request id');
  }
  if (appError.retryAfterS !== undefined) c.header('Retry-After', String(appError.retryAfterS));
  return c.json(toErrorBody(appError, requestId), appError.status as ContentfulStatusCode);
}

function fromHttpException(err: HTTPException): AppError {
  switch (err.status) {
    case 400:
      return new AppError('BAD_REQUEST', err.message || 'bad request');
    case 401:
      return new AppError('UNAUTHORIZED', err.message || 'unauthorized');
    case 403:
      return new AppError('FORBIDDEN', err.message || 'forbidden');
    case 404:
      return new AppError('NOT_FOUND', err.message || 'not found');
    case 413:
      return new AppError('PAYLOAD_TOO_LARGE', err.message || 'request body too large');
    default:
      return new AppError('INTERNAL', err.message || 'internal error', { cause: err });
  }
}

/** Throws 403 unless the caller holds the scope. */
export function requireScope(c: ServiceContext, scope: Scope): Identity {
  const identity = c.get('identity');
  if (!hasScope(identity, scope)) {
    throw new AppError(
      'FORBIDDEN',
      `this route needs the "${scope}" scope, which ${identity.name} lacks`,
      {
        data: { missing: [scope] },
      },
    );
  }
  return identity;
}

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

function nodeBindings(c: ServiceContext): NodeBindings {
  const env = c.env as NodeBindings | undefined;
  return env !== undefined && typeof env === 'object' ? env : {};
}

function tooLarge(limit: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`, { data: { limit } });
}

/**
 * A Node request's body, at most `limit` bytes: beyond, the rest is drained (so the answer
 * still reaches the client) and `tooLargeError()` rejects.
 */
export function readIncomingBytes(
  incoming: IncomingMessage,
  limit: number,
  tooLargeError: () => Error,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        incoming.off('data', onData);
        incoming.resume(); // drain the rest so the connection can answer 413
        reject(tooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    incoming.on('data', onData);
    incoming.once('end', () => resolve(Buffer.concat(chunks)));
    incoming.once('error', reject);
  });
}

/**
 * Reads a JSON body of at most `limitBytes`: 415 unless JSON, 413 over the limit (by header or
 * while reading), 400 INVALID_JSON on a syntax error. On Node it reads the socket directly,
 * which spares building a web `Request` on hot routes.
 */
export async function readJson(c: ServiceContext, limitBytes = 1024 * 1024): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  }
  const declared = Number(c.req.header('content-length') ?? 'NaN');
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const { incoming } = nodeBindings(c);
  let text: string;
  // Read the socket only when nothing else (a web Request built earlier) is reading it.
  if (incoming !== undefined && !incoming.readableEnded && incoming.listenerCount('data') === 0) {
    text = (await readIncomingBytes(incoming, limitBytes, () => tooLarge(limitBytes))).toString(
      'utf8',
    );
  } else {
    text = await c.req.text();
    if (Buffer.byteLength(text) > limitBytes) throw tooLarge(limitBytes);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AppError('INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * A signal that fires when the client goes away before the response is complete. On Node it
 * watches the response socket, which is cheaper than the web `Request`'s signal.
 */
export function requestSignal(c: ServiceContext): AbortSignal {
  const { outgoing } = nodeBindings(c);
  if (outgoing === undefined) return c.req.raw.signal;
  const controller = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  return controller.signal;
}

/**
 * Reads a JSON body and validates it: 400 naming each failing path (`issues`). With
 * `optional`, a request without a body counts as `{}`.
 */
export async function readValidated<S extends z.ZodType>(
  c: ServiceContext,
  schema: S,
  options: { limitBytes?: number; optional?: boolean } = {},
): Promise<z.output<S>> {
  const empty =
    options.optional === true &&
    (c.req.header('content-length') === '0' || c.req.header('content-type') === undefined);
  const parsed = schema.safeParse(empty ? {} : await readJson(c, options.limitBytes));
  if (!parsed.success)
    throw validationError('BAD_REQUEST', toValidationIssues(parsed.error.issues));
  return parsed.data;
}

/** Validates the query string: 400 naming each failing `query.*` path. */
export function readQuery<S extends z.ZodType>(c: ServiceContext, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) {
    throw validationError('BAD_REQUEST', toValidationIssues(parsed.error.issues, 'query'));
  }
  return parsed.data;
}
