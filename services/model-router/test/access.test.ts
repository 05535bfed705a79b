import OpenAI, { PermissionDeniedError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSilentLogger,
  generateToken,
  TokenRegistry,
  type RunningServer,
} from '@datamancy/core';
import { startScriptedOpenAi, type ScriptedOpenAi } from '@datamancy/testkit';
import { ModelRouterConfigSchema } from '../src/config.ts';
import { createRouter, listenRouter, type BuiltRouter } from '../src/router.ts';

/**
 * Who may use the models: a token with `models.use` (or admin). Any other is refused in the
 * OpenAI error shape (`permission_error`, naming the scope) before the backend is asked.
 */

const ADMIN = generateToken();
const USER = generateToken(); // models.use: LiteLLM, Open WebUI
const SCRAPER = generateToken(); // metrics.read: Prometheus
const SPEAKER = generateToken(); // speech.use: someone else's scope

interface OpenAiErrorBody {
  error: {
    message: string;
    type: string;
    code: string;
    param: string | null;
    source: string;
    missing?: string[];
  };
}

let upstream: ScriptedOpenAi;
let router: BuiltRouter;
let server: RunningServer;

beforeAll(async () => {
  upstream = await startScriptedOpenAi([{ content: 'pong' }]);
  router = createRouter({
    config: ModelRouterConfigSchema.parse({
      models: [{ name: 'chat', memoryGiB: 1, backend: { kind: 'url', url: upstream.baseUrl } }],
    }),
    logger: createSilentLogger(),
    tokens: new TokenRegistry(ADMIN, [
      { name: 'litellm', token: USER, scopes: ['models.use'], kind: 'service' },
      { name: 'prometheus', token: SCRAPER, scopes: ['metrics.read'], kind: 'service' },
      { name: 'speech', token: SPEAKER, scopes: ['speech.use'], kind: 'service' },
    ]),
  });
  await router.start();
  server = await listenRouter(router, { host: '127.0.0.1', port: 0, logger: createSilentLogger() });
});

afterAll(async () => {
  await server?.close();
  await router?.close();
  await upstream?.close();
});

const call = (path: string, token: string | null, body?: unknown) =>
  fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const chat = { model: 'chat', messages: [{ role: 'user' as const, content: 'ping' }] };

describe('model router scopes', () => {
  it('refuses the proxied endpoints to a token without models.use, OpenAI-shaped, asking no backend', async () => {
    const before = upstream.requests.length;
    for (const token of [SCRAPER, SPEAKER]) {
      for (const [path, body] of [
        ['/v1/chat/completions', { ...chat, stream: true }],
        ['/v1/completions', { model: 'chat', prompt: 'hi' }],
        ['/v1/embeddings', { model: 'chat', input: 'hi' }],
      ] as const) {
        const res = await call(path, token, body);
        expect(res.status, path).toBe(403);
        expect(res.headers.get('x-datamancy-error-source')).toBe('router');
        const answer = (await res.json()) as OpenAiErrorBody;
        expect(answer.error).toMatchObject({
          type: 'permission_error',
          code: 'missing_scope',
          source: 'router',
          param: null,
          missing: ['models.use'],
        });
        expect(answer.error.message).toContain('"models.use"');
      }
    }
    expect(upstream.requests.length).toBe(before);
  });

  it('gives the openai client a PermissionDeniedError naming the scope', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: SCRAPER, maxRetries: 0 });
    const before = upstream.requests.length;
    const err = await client.chat.completions.create(chat).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as PermissionDeniedError).message).toContain('models.use');
    expect(upstream.requests.length).toBe(before);
  });

  it('refuses /v1/models, /openapi.json and a deep health check without models.use; /health stays public', async () => {
    const before = upstream.requests.length;
    for (const path of ['/v1/models', '/openapi.json', '/health?deep=1']) {
      const res = await call(path, SCRAPER);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as OpenAiErrorBody).error).toMatchObject({
        type: 'permission_error',
        missing: ['models.use'],
      });
    }
    expect(upstream.requests.length).toBe(before); // the deep check ran no generation
    expect((await call('/health', null)).status).toBe(200);
    expect((await call('/healthz', null)).status).toBe(200);
  });

  it('serves /metrics to metrics.read only, and answers service-app errors in the OpenAI shape too', async () => {
    const denied = await call('/metrics', USER);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as OpenAiErrorBody).error).toMatchObject({
      type: 'permission_error',
      code: 'forbidden',
      source: 'router',
      missing: ['metrics.read'],
    });
    const scraped = await call('/metrics', SCRAPER);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('router_request_seconds');
    const unauthenticated = await call('/v1/models', null);
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await unauthenticated.json()) as OpenAiErrorBody).error).toMatchObject({
      type: 'authentication_error',
      source: 'router',
    });
  });

  it('serves a token with models.use (and admin) end to end, reaching the backend', async () => {
    const before = upstream.requests.length;
    const res = await call('/v1/chat/completions', USER, chat);
    expect(res.status).toBe(200);
    expect(
      ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message
        .content,
    ).toBe('pong');
    expect(upstream.requests.length).toBe(before + 1);
    expect((await call('/v1/models', USER)).status).toBe(200);
    expect((await call('/health?deep=1', USER)).status).toBe(200);
    expect((await call('/v1/models', ADMIN)).status).toBe(200);
    expect((await call('/metrics', ADMIN)).status).toBe(200);
  });
});

describe('the OpenAPI document on scopes', () => {
  it('names the scope of every route but the public health checks, each with a 403', async () => {
    const { createOpenApiDocument } = await import('../src/openapi.ts');
    const doc = createOpenApiDocument('test') as {
      security: { bearer: string[] }[];
      paths: Record<
        string,
        Record<string, { security?: { bearer?: string[] }[]; responses: Record<string, unknown> }>
      >;
    };
    expect(doc.security).toEqual([{ bearer: ['models.use'] }]);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (path === '/healthz') {
          expect(op.security).toEqual([]);
          continue;
        }
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('403'); // /health: deep
        if (path === '/health') continue;
        expect((op.security ?? doc.security)[0]?.bearer, `${method} ${path}`).toEqual([
          path === '/metrics' ? 'metrics.read' : 'models.use',
        ]);
      }
    }
  });
});
