import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger, TokenRegistry, type RunningServer } from '@datamancy/core';
import { waitFor } from '@datamancy/testkit';
import { ModelRouterConfigSchema, type ModelRouterConfig } from '../src/config.ts';
import { createRouter, listenRouter, type BuiltRouter } from '../src/router.ts';

/**
 * The router end to end: it spawns real backend processes (a small OpenAI-compatible server
 * that takes time to load, holds memory and streams tokens), and the `openai` npm client talks
 * to it as to OpenAI.
 */

const FAKE = fileURLToPath(new URL('./fixtures/fake-openai-backend.mjs', import.meta.url));
const TOKEN = 'router-test-token-0123456789abcdef';

const processModel = (
  name: string,
  memoryGiB: number,
  extra: string[] = [],
  more: Record<string, unknown> = {},
) => ({
  name,
  memoryGiB,
  backend: {
    kind: 'process',
    command: [
      process.execPath,
      FAKE,
      '--port',
      '{port}',
      '--name',
      '{model}',
      '--load-ms',
      '150',
      '--memory-mb',
      '16',
      ...extra,
    ],
    stopGraceS: 2,
  },
  loadTimeoutS: 20,
  ...more,
});

interface Running {
  router: BuiltRouter;
  server: RunningServer;
  url: string;
  close(): Promise<void>;
}

async function startRouter(config: unknown): Promise<Running> {
  const router = createRouter({
    config: ModelRouterConfigSchema.parse(config),
    logger: createSilentLogger(),
    tokens: new TokenRegistry(TOKEN),
  });
  await router.start();
  const server = await listenRouter(router, {
    host: '127.0.0.1',
    port: 0,
    logger: createSilentLogger(),
  });
  return {
    router,
    server,
    url: server.url,
    close: async () => {
      await server.close();
      await router.close();
    },
  };
}

const post = (
  r: Running,
  path: string,
  body: unknown,
  token: string | null = TOKEN,
  signal?: AbortSignal,
) =>
  fetch(`${r.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });

const states = async (r: Running): Promise<Record<string, string>> => {
  const res = await fetch(`${r.url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await res.json()) as { data: { id: string; state: string }[] };
  return Object.fromEntries(body.data.map((m) => [m.id, m.state]));
};

const backendStats = async (r: Running, model: string) => {
  const root = r.router.backends.get(model)?.root;
  const res = await fetch(`${root ?? ''}/stats`);
  return (await res.json()) as {
    requests: number;
    completed: number;
    aborted: number;
    sleeping: boolean;
  };
};

let r: Running;

beforeAll(async () => {
  r = await startRouter({
    devices: { gpu0: { memoryGiB: 10 } },
    models: [
      processModel('small', 4, ['--token-ms', '20', '--tokens', '5'], { aliases: ['tiny'] }),
      processModel('mid', 5),
      processModel('big', 8),
      processModel('huge', 12),
      processModel('slowpoke', 1, ['--tokens', '40', '--token-ms', '25']),
    ],
    scheduling: { starvationMs: 100 },
  });
}, 30_000);

afterAll(async () => {
  await r?.close();
});

describe('model router', () => {
  it('streams a chat completion through the openai client, chunk by chunk, loading the model first', async () => {
    const client = new OpenAI({ baseURL: `${r.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    expect((await states(r)).small).toBe('unloaded');
    const started = Date.now();
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      arrivals.push(Date.now() - started);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('tok0 tok1 tok2 tok3 tok4 ');
    // tokens 20 ms apart upstream arrive apart here too: nothing buffered the stream
    expect((arrivals.at(-2) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(60);
    expect((await states(r)).small).toBe('resident');
    const plain = await client.chat.completions.create({
      model: 'small',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    });
    expect(plain.choices[0]?.message.content).toBe('tok0 tok1 ');
    const embedding = await client.embeddings.create({ model: 'small', input: ['abc', 'hello'] });
    expect(embedding.data.map((d) => d.embedding[0])).toEqual([3, 5]);
    const completion = await client.completions.create({
      model: 'small',
      prompt: 'x',
      max_tokens: 3,
    });
    expect(completion.choices[0]?.text).toBe('tok0 tok1 tok2 ');
  }, 20_000);

  it('evicts to make room, never the model serving a request, and reloads on demand', async () => {
    await post(r, '/v1/chat/completions', { model: 'mid', messages: [] }).then((x) => x.text());
    expect(await states(r)).toMatchObject({ small: 'resident', mid: 'resident' }); // 4 + 5 ≤ 10
    // big (8) needs both gone; a slow request keeps small busy meanwhile
    const busy = post(r, '/v1/chat/completions', { model: 'small', messages: [], max_tokens: 15 });
    await new Promise((x) => setTimeout(x, 100));
    const big = post(r, '/v1/chat/completions', { model: 'big', messages: [] });
    await new Promise((x) => setTimeout(x, 150));
    expect((await states(r)).small).toBe('resident'); // still serving: not evicted mid-request
    expect((await busy).status).toBe(200);
    expect((await big).status).toBe(200);
    expect(await states(r)).toMatchObject({ small: 'unloaded', mid: 'unloaded', big: 'resident' });
    const metrics = await (
      await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    expect(metrics).toMatch(
      /router_model_evictions_total\{[^}]*model="mid"[^}]*reason="memory"[^}]*\} 1/,
    );
  }, 20_000);

  it('loads once for many concurrent requests for a missing model', async () => {
    const before = await (
      await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    const loadsOf = (text: string) =>
      Number(/router_model_loads_total\{[^}]*model="mid"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        post(r, '/v1/chat/completions', { model: 'mid', messages: [] }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    const after = await (
      await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    expect(loadsOf(after) - loadsOf(before)).toBe(1);
    expect(after).toMatch(/router_model_load_seconds_count\{[^}]*model="mid"[^}]*\} \d+/);
  }, 20_000);

  it('fails fast, saying who failed, for a model that can never fit, an unknown one, or bad input', async () => {
    const huge = await post(r, '/v1/chat/completions', { model: 'huge', messages: [] });
    expect(huge.status).toBe(400);
    expect(huge.headers.get('x-datamancy-error-source')).toBe('router');
    expect(await huge.json()).toMatchObject({
      error: {
        code: 'model_cannot_fit',
        param: 'model',
        source: 'router',
        message: expect.stringContaining('needs 12 GiB') as unknown,
      },
    });
    const unknown = await post(r, '/v1/chat/completions', { model: 'gpt-9', messages: [] });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      error: { code: 'model_not_found', type: 'invalid_request_error' },
    });
    const missing = await post(r, '/v1/embeddings', { input: 'x' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { param: 'model' } });
    const badStream = await post(r, '/v1/chat/completions', { model: 'small', stream: 'yes' });
    expect(await badStream.json()).toMatchObject({ error: { param: 'stream' } });
    expect((await post(r, '/v1/chat/completions', { model: 'small' }, null)).status).toBe(401);
  });

  it('cancels the upstream request when the client goes away', async () => {
    const controller = new AbortController();
    const res = await post(
      r,
      '/v1/chat/completions',
      { model: 'slowpoke', messages: [], stream: true },
      TOKEN,
      controller.signal,
    );
    const reader = res.body?.getReader();
    await reader?.read(); // the first chunk: the upstream is mid-stream
    const before = await backendStats(r, 'slowpoke');
    controller.abort();
    // the backend sees its client (the router) go away, long before the 1 s stream would end
    const after = await waitFor(
      'the backend to count the abandoned request',
      async () => {
        const stats = await backendStats(r, 'slowpoke');
        return stats.aborted > before.aborted ? stats : undefined;
      },
      5000,
    );
    expect(after.aborted).toBe(before.aborted + 1);
    expect(after.completed).toBe(before.completed);
  }, 20_000);

  it('ends a stream with an OpenAI error event when the backend crashes mid-stream, then reloads it', async () => {
    const res = await post(r, '/v1/chat/completions', {
      model: 'small',
      messages: [{ role: 'user', content: 'CRASH_AFTER:2' }],
      stream: true,
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('tok1 ');
    const event = /data: (\{"error".*\})\n\n/.exec(text)?.[1];
    expect(JSON.parse(event ?? '{}')).toMatchObject({
      error: { type: 'upstream_error', code: 'upstream_broken', source: 'upstream' },
    });
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    await new Promise((x) => setTimeout(x, 100));
    expect((await states(r)).small).toBe('unloaded'); // the process is gone: not resident any more
    const again = await post(r, '/v1/chat/completions', { model: 'small', messages: [] });
    expect(again.status).toBe(200);
  }, 20_000);

  it('answers /health, deep with a one-token generation, and lists models with their state', async () => {
    const shallow = await fetch(`${r.url}/health`); // public, as vLLM's
    expect(shallow.status).toBe(200);
    expect((await fetch(`${r.url}/health?deep=1`)).status).toBe(401); // a generation needs a token
    const deep = await fetch(`${r.url}/health?deep=1`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(deep.status).toBe(200);
    expect(await deep.json()).toMatchObject({
      ok: true,
      deep: { model: expect.any(String) as unknown },
    });
    const list = (await (
      await fetch(`${r.url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { data: { id: string; state: string; aliases: string[] }[] };
    expect(list.data.map((m) => m.id)).toEqual(['small', 'mid', 'big', 'huge', 'slowpoke']);
    expect(list.data[0]?.aliases).toEqual(['tiny']);
  });
});

describe('model router limits and backends', () => {
  it('bounds the queue: 429 with Retry-After beyond it', async () => {
    const q = await startRouter({
      devices: { gpu0: { memoryGiB: 10 } },
      models: [processModel('m', 4, ['--load-ms', '400'], { loadCostS: 3 })],
      queue: { perModel: 2 },
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 5 }, () =>
          post(q, '/v1/chat/completions', { model: 'm', messages: [] }),
        ),
      );
      const codes = answers.map((a) => a.status).sort();
      expect(codes).toEqual([200, 200, 429, 429, 429]);
      const refused = answers.find((a) => a.status === 429);
      expect(refused?.headers.get('retry-after')).toBe('3');
      expect(await refused?.json()).toMatchObject({
        error: { code: 'queue_full', source: 'router' },
      });
    } finally {
      await q.close();
    }
  }, 20_000);

  it('parks a vllm-sleep model and wakes it; an always-on URL model is never evicted', async () => {
    const { spawn } = await import('node:child_process');
    const sleeper = spawn(process.execPath, [FAKE, '--port', '0', '--name', 'sleeper'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const always = spawn(process.execPath, [FAKE, '--port', '0', '--name', 'always'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const portOf = (child: typeof sleeper) =>
      new Promise<number>((resolve) =>
        child.stdout?.once('data', (c: Buffer) =>
          resolve(Number(/on (\d+)/.exec(c.toString())?.[1])),
        ),
      );
    const [sleepPort, alwaysPort] = await Promise.all([portOf(sleeper), portOf(always)]);
    const v = await startRouter({
      devices: { gpu0: { memoryGiB: 10 } },
      models: [
        {
          name: 'sleeper',
          memoryGiB: 6,
          sleepMemoryGiB: 1,
          backend: { kind: 'vllm-sleep', url: `http://127.0.0.1:${String(sleepPort)}/v1` },
        },
        {
          name: 'always',
          memoryGiB: 2,
          backend: { kind: 'url', url: `http://127.0.0.1:${String(alwaysPort)}` },
        },
        processModel('other', 6),
      ],
    });
    try {
      expect(await states(v)).toMatchObject({ always: 'resident', sleeper: 'unloaded' });
      expect(
        (await post(v, '/v1/chat/completions', { model: 'sleeper', messages: [] })).status,
      ).toBe(200);
      expect((await post(v, '/v1/chat/completions', { model: 'other', messages: [] })).status).toBe(
        200,
      );
      expect(await states(v)).toMatchObject({
        sleeper: 'sleeping',
        other: 'resident',
        always: 'resident',
      });
      const asleep = (await (
        await fetch(`http://127.0.0.1:${String(sleepPort)}/stats`)
      ).json()) as { sleeping: boolean };
      expect(asleep.sleeping).toBe(true);
      expect(
        (await post(v, '/v1/chat/completions', { model: 'sleeper', messages: [] })).status,
      ).toBe(200);
      expect(await states(v)).toMatchObject({
        sleeper: 'resident',
        other: 'unloaded',
        always: 'resident',
      });
    } finally {
      await v.close();
      sleeper.kill();
      always.kill();
    }
  }, 30_000);

  it('rejects a configuration whose pins exceed the budget, naming them', () => {
    const parsed = ModelRouterConfigSchema.safeParse({
      devices: { gpu0: { memoryGiB: 10 } },
      models: [
        { name: 'a', memoryGiB: 6, pin: true, backend: { kind: 'url', url: 'http://127.0.0.1:1' } },
        { name: 'b', memoryGiB: 6, pin: true, backend: { kind: 'url', url: 'http://127.0.0.1:2' } },
        {
          name: 'c',
          memoryGiB: 1,
          device: 'gpu9',
          backend: { kind: 'url', url: 'http://127.0.0.1:3' },
        },
      ],
    });
    expect(parsed.success).toBe(false);
    const messages = parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual([
      'models.2.device: unknown device "gpu9" (devices: gpu0)',
      'devices.gpu0.memoryGiB: pinned models need 12 GiB (a, b), more than the 10 GiB budget',
    ]);
  });
});

export type { ModelRouterConfig };

describe('docs/api/model-router.openapi.json', () => {
  it('is the document the router serves (regenerate with npm run gen:openapi)', async () => {
    const { readFileSync } = await import('node:fs');
    const { createOpenApiDocument } = await import('../src/openapi.ts');
    const { VERSION } = await import('../src/version.ts');
    const committed = JSON.parse(
      readFileSync(new URL('../../../docs/api/model-router.openapi.json', import.meta.url), 'utf8'),
    ) as unknown;
    const served = await fetch(`${r.url}/openapi.json`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(committed).toEqual(await served.json());
    expect(committed).toEqual(createOpenApiDocument(VERSION));
  });
});
