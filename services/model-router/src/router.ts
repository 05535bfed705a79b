import type { Context, MiddlewareHandler } from 'hono';
import {
  AppError,
  Counter,
  createServiceApp,
  Gauge,
  hasScope,
  Histogram,
  listen,
  parseBearer,
  type Logger,
  type RunningServer,
  type ServiceEnv,
  type TokenRegistry,
} from '@datamancy/core';
import { createBackend, type Backend, type ContainerControl } from './backends.ts';
import type { ModelConfig, ModelRouterConfig } from './config.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { createOpenApiDocument } from './openapi.ts';
import {
  createProxy,
  missingScope,
  MODELS_SCOPE,
  openAiErrorAnswer,
  type ErrorExtra,
  type Source,
} from './proxy.ts';
import { Scheduler, type ModelStatus } from './scheduler.ts';
import { VERSION } from './version.ts';

/**
 * The router: scheduler, backends and metrics, the proxied endpoints (proxy.ts, on Node's own
 * HTTP objects for speed) and the rest on core's service app: `/v1/models`, `/health`,
 * `/metrics`, `/openapi.json`.
 */

function openAiError(
  c: Context<ServiceEnv>,
  status: number,
  source: Source,
  message: string,
  code: string,
  extra: ErrorExtra = {},
): Response {
  const answer = openAiErrorAnswer(c.get('requestId'), status, source, message, code, extra);
  return c.body(answer.body, status as ContentfulStatusCode, answer.headers);
}

/**
 * The service app's errors (core's 401, a 403 for `/metrics`, 404s, faults) in the same OpenAI
 * shape as the hot path's, so a client of the router meets one envelope.
 */
function renderOpenAiError(err: unknown, c: Context<ServiceEnv>): Response {
  if (!(err instanceof AppError)) {
    c.get('log').error({ err }, 'unhandled error');
    return openAiError(c, 500, 'router', 'internal error; see the router log', 'internal');
  }
  const missing = err.data?.missing;
  return openAiError(c, err.status, 'router', err.message, err.code.toLowerCase(), {
    ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }),
    ...(Array.isArray(missing) ? { missing: missing as string[] } : {}),
  });
}

export interface RouterMetrics {
  loads: Counter<'model'>;
  loadFailures: Counter<'model'>;
  evictions: Counter<'model' | 'reason'>;
  loadSeconds: Histogram<'model'>;
  queueDepth: Gauge<'model'>;
  latency: Histogram<'model' | 'endpoint'>;
  queueWait: Histogram<'model'>;
}

export interface StartRouterOptions {
  config: ModelRouterConfig;
  logger: Logger;
  tokens: TokenRegistry;
  env?: NodeJS.ProcessEnv;
  containers?: () => ContainerControl;
}

export interface BuiltRouter {
  /** Everything but the proxied endpoints: models, health, metrics (core's service app). */
  app: ReturnType<typeof createServiceApp>['app'];
  /** The proxied endpoints; returns false for any other request (then `app` answers). */
  proxy: (req: IncomingMessage, res: ServerResponse) => boolean;
  scheduler: Scheduler;
  backends: Map<string, Backend>;
  /** Loads the pinned and always-on models. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createRouter(options: StartRouterOptions): BuiltRouter {
  const { config, logger } = options;
  const byName = new Map<string, ModelConfig>();
  for (const m of config.models) for (const n of [m.name, ...m.aliases]) byName.set(n, m);
  const { app, metrics } = createServiceApp({
    service: 'model-router',
    version: VERSION,
    logger,
    tokens: options.tokens,
    // like vLLM's, for load balancers and container healthchecks; ?deep=1 needs a token
    publicPaths: ['/health'],
    health: () => ({
      ok: true,
      models: scheduler.status().map((s) => ({ name: s.name, state: s.state })),
    }),
  });
  const registers = [metrics.registry];
  const m: RouterMetrics = {
    loads: new Counter({
      name: 'router_model_loads_total',
      help: 'Models made resident.',
      labelNames: ['model'],
      registers,
    }),
    loadFailures: new Counter({
      name: 'router_model_load_failures_total',
      help: 'Loads that failed or timed out.',
      labelNames: ['model'],
      registers,
    }),
    evictions: new Counter({
      name: 'router_model_evictions_total',
      help: 'Models unloaded or put to sleep, by reason (memory, idle).',
      labelNames: ['model', 'reason'],
      registers,
    }),
    loadSeconds: new Histogram({
      name: 'router_model_load_seconds',
      help: 'Time to make a model resident.',
      labelNames: ['model'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'router_queue_depth',
      help: 'Requests waiting for their model.',
      labelNames: ['model'],
      registers,
    }),
    latency: new Histogram({
      name: 'router_request_seconds',
      help: 'Proxied request time to the last byte, by model and endpoint.',
      labelNames: ['model', 'endpoint'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    }),
    queueWait: new Histogram({
      name: 'router_queue_wait_seconds',
      help: 'Time a request waited for its model to be resident.',
      labelNames: ['model'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    }),
  };
  const backends = new Map<string, Backend>();
  // the backends report a lost process to the scheduler made just below
  const lost = (model: string, reason: string): void => scheduler.lost(model, reason);
  for (const model of config.models) {
    backends.set(
      model.name,
      createBackend(model, {
        logger,
        env: options.env ?? process.env,
        ...(options.containers === undefined ? {} : { containers: options.containers }),
        onLost: (reason) => {
          logger.warn({ model: model.name, reason }, 'model backend went away');
          lost(model.name, reason);
        },
      }),
    );
  }
  const scheduler: Scheduler = new Scheduler(
    config.models.map((model) => ({
      name: model.name,
      device: model.device,
      memoryGiB: model.memoryGiB,
      sleepMemoryGiB: model.sleepMemoryGiB,
      sleeps: model.backend.kind === 'vllm-sleep',
      pinned: model.pin || model.backend.kind === 'url',
      priority: model.priority,
      loadCostS: model.loadCostS ?? Math.min(60, model.loadTimeoutS / 4),
      loadTimeoutMs: model.loadTimeoutS * 1000,
      ...(model.idleTtlS === undefined ? {} : { idleTtlMs: model.idleTtlS * 1000 }),
      maxConcurrent: model.maxConcurrent,
    })),
    {
      load: async (name, signal) => {
        const started = performance.now();
        await backends.get(name)?.load(signal);
        logger.info({ model: name, ms: Math.round(performance.now() - started) }, 'model resident');
      },
      unload: async (name) => {
        await backends.get(name)?.unload();
        logger.info({ model: name }, 'model unloaded');
      },
    },
    {
      devices: Object.fromEntries(Object.entries(config.devices).map(([k, v]) => [k, v.memoryGiB])),
      policy: config.scheduling.policy,
      starvationMs: config.scheduling.starvationMs,
      maxQueuePerModel: config.queue.perModel,
      maxQueueTotal: config.queue.total,
      failureCooldownMs: config.scheduling.failureCooldownS * 1000,
      observer: {
        loaded: (model, ms) => {
          m.loads.inc({ model });
          m.loadSeconds.observe({ model }, ms / 1000);
        },
        loadFailed: (model, err) => {
          m.loadFailures.inc({ model });
          logger.error({ model, err: err.message }, 'model failed to load');
        },
        evicted: (model, reason, how) => {
          m.evictions.inc({ model, reason });
          logger.info({ model, reason, how }, 'model evicted');
        },
        queueChanged: (model, depth) => m.queueDepth.set({ model }, depth),
      },
    },
  );

  const describe = (s: ModelStatus) => {
    const model = byName.get(s.name);
    return {
      id: s.name,
      object: 'model',
      created: 0,
      owned_by: 'datamancy',
      state: s.state,
      aliases: model?.aliases ?? [],
      device: model?.device,
      memory_gib: model?.memoryGiB,
      pinned: model?.pin === true || model?.backend.kind === 'url',
      in_flight: s.inFlight,
      queued: s.queued,
      loads: s.loads,
      evictions: s.evictions,
      ...(s.lastError === undefined ? {} : { last_error: s.lastError }),
    };
  };

  app.onError(renderOpenAiError);

  // `/v1/*` (and this API's description) need `models.use` (or admin), checked before any
  // route's work; `/metrics` needs `metrics.read` (core); `/health` and `/healthz` are public.
  const gate: MiddlewareHandler<ServiceEnv> = async (c, next) => {
    const identity = c.get('identity');
    if (!hasScope(identity, MODELS_SCOPE))
      return openAiError(c, 403, 'router', ...missingScope(identity.name, MODELS_SCOPE));
    await next();
  };
  app.use('/v1/*', gate);
  app.use('/openapi.json', gate);

  app.get('/openapi.json', (c) => c.json(createOpenApiDocument(VERSION)));

  app.get('/v1/models', (c) => c.json({ object: 'list', data: scheduler.status().map(describe) }));

  app.get('/health', async (c) => {
    const status = scheduler.status();
    const body = { ok: true, models: status.map((s) => ({ name: s.name, state: s.state })) };
    if (c.req.query('deep') === undefined || c.req.query('deep') === '0') return c.json(body);
    const token = parseBearer(c.req.header('authorization'));
    const identity = token === undefined ? undefined : options.tokens.authenticate(token);
    if (identity === undefined)
      return openAiError(
        c,
        401,
        'router',
        'a deep health check runs a generation: send a bearer token',
        'unauthenticated',
      );
    // a deep check uses a model, so it needs what using one needs
    if (!hasScope(identity, MODELS_SCOPE))
      return openAiError(c, 403, 'router', ...missingScope(identity.name, MODELS_SCOPE));
    const resident = status.find(
      (s) => s.state === 'resident' && backends.get(s.name)?.root !== undefined,
    );
    if (resident === undefined)
      return c.json({ ...body, ok: false, deep: 'no resident model to ask' }, 503);
    const backend = backends.get(resident.name);
    const started = performance.now();
    try {
      const res = await fetch(`${backend?.root ?? ''}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(backend?.apiKey === undefined ? {} : { authorization: `Bearer ${backend.apiKey}` }),
        },
        body: JSON.stringify({
          model: byName.get(resident.name)?.upstreamModel ?? resident.name,
          messages: [{ role: 'user', content: 'ping' }],
          max_tokens: 1,
        }),
        signal: AbortSignal.timeout(30_000),
      });
      await res.body?.cancel();
      if (!res.ok)
        return c.json(
          { ...body, ok: false, deep: `${resident.name} answered ${String(res.status)}` },
          503,
        );
      return c.json({
        ...body,
        deep: { model: resident.name, ms: Math.round(performance.now() - started) },
      });
    } catch (err) {
      return c.json(
        { ...body, ok: false, deep: `${resident.name}: ${(err as Error).message}` },
        503,
      );
    }
  });

  const proxy = createProxy({
    config,
    logger,
    tokens: options.tokens,
    scheduler,
    backends,
    models: byName,
    http: metrics,
    metrics: m,
  });

  return {
    app,
    proxy,
    scheduler,
    backends,
    start: () => scheduler.start(),
    close: async () => {
      await scheduler.close();
      await Promise.all([...backends.values()].map((b) => b.close().catch(() => undefined)));
    },
  };
}

/** One HTTP server: the proxy's fast path first, then the service app for everything else. */
export function listenRouter(
  router: BuiltRouter,
  options: { host: string; port: number; logger: Logger },
): Promise<RunningServer> {
  return listen(router.app, { ...options, name: 'model-router', front: router.proxy });
}
