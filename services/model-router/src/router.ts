import type { Context } from 'hono';
import {
  Counter,
  createServiceApp,
  Gauge,
  Histogram,
  parseBearer,
  type Logger,
  type ServiceEnv,
  type TokenRegistry,
} from '@datamancy/core';
import { createBackend, type Backend, type ContainerControl } from './backends.ts';
import type { ModelConfig, ModelRouterConfig } from './config.ts';
import { Scheduler, SchedulerError, type Lease, type ModelStatus } from './scheduler.ts';
import { VERSION } from './version.ts';

/**
 * The router's HTTP side: OpenAI-compatible endpoints that take a lease on the model from the
 * scheduler and pass the request through to its backend, streaming chunk by chunk with no
 * buffering. Errors are OpenAI-shaped and say who failed: `type: router_error` (and header
 * `x-datamancy-error-source: router`) or `upstream_error` (`upstream`).
 */

const PROXIED = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;

type Source = 'router' | 'upstream';

function openAiError(
  c: Context<ServiceEnv>,
  status: number,
  source: Source,
  message: string,
  code: string,
  extra: { param?: string; retryAfterS?: number } = {},
): Response {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-datamancy-error-source': source,
    'x-request-id': c.get('requestId'),
  };
  if (extra.retryAfterS !== undefined) headers['retry-after'] = String(extra.retryAfterS);
  const type = status === 400 || status === 404 ? 'invalid_request_error' : `${source}_error`;
  return new Response(
    JSON.stringify({ error: { message, type, code, param: extra.param ?? null, source } }),
    { status, headers },
  );
}

/** An OpenAI-shaped error event ending a stream the upstream broke off. */
function errorEvent(message: string, code: string): Uint8Array {
  const event = {
    error: { message, type: 'upstream_error', code, param: null, source: 'upstream' },
  };
  return new TextEncoder().encode(`data: ${JSON.stringify(event)}\n\ndata: [DONE]\n\n`);
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
  app: ReturnType<typeof createServiceApp>['app'];
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

  app.get('/v1/models', (c) => c.json({ object: 'list', data: scheduler.status().map(describe) }));

  app.get('/health', async (c) => {
    const status = scheduler.status();
    const body = { ok: true, models: status.map((s) => ({ name: s.name, state: s.state })) };
    if (c.req.query('deep') === undefined || c.req.query('deep') === '0') return c.json(body);
    const token = parseBearer(c.req.header('authorization'));
    if (token === undefined || options.tokens.authenticate(token) === undefined)
      return openAiError(
        c,
        401,
        'router',
        'a deep health check runs a generation: send a bearer token',
        'unauthenticated',
      );
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

  for (const path of PROXIED) {
    app.post(path, async (c) => {
      const endpoint = path.slice('/v1/'.length);
      const raw = await c.req.arrayBuffer();
      if (raw.byteLength > config.maxBodyBytes)
        return openAiError(
          c,
          413,
          'router',
          `the body is ${String(raw.byteLength)} bytes, more than ${String(config.maxBodyBytes)}`,
          'body_too_large',
        );
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(new TextDecoder().decode(raw)) as Record<string, unknown>;
        if (body === null || typeof body !== 'object' || Array.isArray(body))
          throw new Error('not an object');
      } catch {
        return openAiError(c, 400, 'router', 'the body is not a JSON object', 'invalid_json');
      }
      if (typeof body.model !== 'string' || body.model === '')
        return openAiError(
          c,
          400,
          'router',
          'model: required, a configured model name',
          'invalid_model',
          { param: 'model' },
        );
      if (body.stream !== undefined && typeof body.stream !== 'boolean')
        return openAiError(c, 400, 'router', 'stream: must be true or false', 'invalid_stream', {
          param: 'stream',
        });
      const model = byName.get(body.model);
      if (model === undefined)
        return openAiError(
          c,
          404,
          'router',
          `no model "${body.model}"; GET /v1/models lists them`,
          'model_not_found',
          { param: 'model' },
        );
      const clientSignal = c.req.raw.signal;
      let lease: Lease;
      try {
        lease = await scheduler.acquire(model.name, clientSignal);
      } catch (err) {
        if (err instanceof SchedulerError)
          return openAiError(c, err.status, 'router', err.message, err.code, {
            ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }),
            ...(err.status === 400 ? { param: 'model' } : {}),
          });
        throw err;
      }
      m.queueWait.observe({ model: model.name }, lease.queuedMs / 1000);
      return forward(c, lease, model, body, endpoint);
    });
  }

  async function forward(
    c: Context<ServiceEnv>,
    lease: Lease,
    model: ModelConfig,
    body: Record<string, unknown>,
    endpoint: string,
  ): Promise<Response> {
    const started = performance.now();
    const backend = backends.get(model.name);
    const root = backend?.root;
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      lease.release();
      m.latency.observe({ model: model.name, endpoint }, (performance.now() - started) / 1000);
    };
    if (root === undefined) {
      done();
      return openAiError(
        c,
        503,
        'router',
        `model ${model.name} is not reachable right now`,
        'backend_gone',
        { retryAfterS: 1 },
      );
    }
    const upstream = new AbortController();
    const clientSignal = c.req.raw.signal;
    const onClientAbort = (): void => upstream.abort();
    clientSignal.addEventListener('abort', onClientAbort, { once: true });
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = (): void => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => upstream.abort(new Error('idle')), config.upstreamTimeoutMs);
    };
    const cleanup = (): void => {
      if (idle !== undefined) clearTimeout(idle);
      clientSignal.removeEventListener('abort', onClientAbort);
      done();
    };
    const payload =
      model.upstreamModel === undefined ? body : { ...body, model: model.upstreamModel };
    let res: Response;
    try {
      armIdle();
      res = await fetch(`${root}/v1/${endpoint}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': c.get('requestId'),
          ...(backend?.apiKey === undefined ? {} : { authorization: `Bearer ${backend.apiKey}` }),
        },
        body: JSON.stringify(payload),
        signal: upstream.signal,
      });
    } catch (err) {
      cleanup();
      if (clientSignal.aborted) return new Response(null, { status: 499 });
      const timedOut = upstream.signal.aborted;
      return openAiError(
        c,
        timedOut ? 504 : 502,
        'upstream',
        timedOut
          ? `model ${model.name}: no answer within ${String(config.upstreamTimeoutMs)} ms`
          : `model ${model.name}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`,
        timedOut ? 'upstream_timeout' : 'upstream_unreachable',
      );
    }
    const headers = new Headers();
    for (const h of ['content-type', 'cache-control']) {
      const v = res.headers.get(h);
      if (v !== null) headers.set(h, v);
    }
    headers.set('x-request-id', c.get('requestId'));
    if (!res.ok) headers.set('x-datamancy-error-source', 'upstream');
    const reader = res.body?.getReader();
    if (reader === undefined) {
      cleanup();
      return new Response(null, { status: res.status, headers });
    }
    const streaming = (res.headers.get('content-type') ?? '').includes('text/event-stream');
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          armIdle();
          const { done: finished, value } = (await reader.read()) as {
            done: boolean;
            value?: Uint8Array;
          };
          if (finished) {
            cleanup();
            controller.close();
            return;
          }
          if (value !== undefined) controller.enqueue(value);
        } catch (err) {
          cleanup();
          if (clientSignal.aborted) {
            controller.error(err);
            return;
          }
          const timedOut =
            upstream.signal.reason instanceof Error && upstream.signal.reason.message === 'idle';
          const message = timedOut
            ? `model ${model.name} stopped sending for ${String(config.upstreamTimeoutMs)} ms`
            : `model ${model.name} broke off the response: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`;
          c.get('log').warn({ model: model.name, err: message }, 'upstream failed mid-response');
          if (streaming) {
            controller.enqueue(
              errorEvent(message, timedOut ? 'upstream_timeout' : 'upstream_broken'),
            );
            controller.close();
          } else {
            controller.error(err);
          }
        }
      },
      cancel() {
        upstream.abort();
        cleanup();
      },
    });
    return new Response(stream, { status: res.status, headers });
  }

  return {
    app,
    scheduler,
    backends,
    start: () => scheduler.start(),
    close: async () => {
      await scheduler.close();
      await Promise.all([...backends.values()].map((b) => b.close().catch(() => undefined)));
    },
  };
}
