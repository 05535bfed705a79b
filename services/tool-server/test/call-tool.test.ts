import { describe, expect, it } from 'vitest';
import {
  ADMIN,
  bearer,
  createTestToolServer,
  postJson,
  probes,
  READER,
  TEXT_ONLY,
  WRITER,
} from './helpers.ts';

interface ErrorBody {
  error: {
    code: string;
    message: string;
    issues?: { path: string; message: string }[];
    missing?: string[];
  };
}

describe('GET /tools', () => {
  it('lists tools in OpenAI function format with JSON Schema parameters', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request('/tools', { headers: bearer(ADMIN) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      tools: {
        type: string;
        function: { name: string; parameters: { type: string; properties: object } };
      }[];
    };
    const httpGet = body.tools.find((t) => t.function.name === 'http_get');
    expect(httpGet?.type).toBe('function');
    expect(httpGet?.function.parameters).toMatchObject({
      type: 'object',
      properties: { url: { type: 'string' } },
      required: ['url'],
    });
  });

  it('offers each caller only the tools its scope allows', async () => {
    const { app } = await createTestToolServer();
    const names = async (token: string) =>
      (
        (await (await app.request('/tools', { headers: bearer(token) })).json()) as {
          tools: { function: { name: string } }[];
        }
      ).tools.map((t) => t.function.name);
    const admin = await names(ADMIN);
    const reader = await names(READER);
    const texts = await names(TEXT_ONLY);
    expect(admin).toContain('restart_thing');
    expect(reader).toContain('http_get');
    expect(reader).not.toContain('restart_thing');
    expect(texts).toContain('hash_sha256');
    expect(texts).not.toContain('http_get');
  });
});

describe('POST /call-tool', () => {
  it('runs a tool and answers {result, elapsedMs}', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request(
      '/call-tool',
      postJson(READER, { name: 'hash_sha256', args: { text: 'abc' } }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { hex: string }; elapsedMs: number };
    expect(body.result.hex).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(body.elapsedMs).toBeGreaterThanOrEqual(0);
  });

  it('gives the handler the caller identity and the parsed defaults', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request('/call-tool', postJson(WRITER, { name: 'whoami' }));
    expect(await res.json()).toMatchObject({ result: { caller: 'writer', n: 1, tags: [] } });
  });

  it('answers 400 naming the failing argument path', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request(
      '/call-tool',
      postJson(ADMIN, { name: 'whoami', args: { n: 99, tags: ['ok', 7] } }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('INVALID_ARGUMENTS');
    expect(body.error.issues?.map((i) => i.path).sort()).toEqual(['args.n', 'args.tags[1]']);
    expect(body.error.message).toContain('args.n');
  });

  it('answers 400 for a malformed body, naming the field', async () => {
    const { app } = await createTestToolServer();
    const missingName = await app.request('/call-tool', postJson(ADMIN, { args: {} }));
    expect(missingName.status).toBe(400);
    expect(((await missingName.json()) as ErrorBody).error.issues?.[0]?.path).toBe('name');
    const badArgs = await app.request('/call-tool', postJson(ADMIN, { name: 'whoami', args: [1] }));
    expect(((await badArgs.json()) as ErrorBody).error.issues?.[0]?.path).toBe('args');
    const notJson = await app.request('/call-tool', postJson(ADMIN, '{"name": '));
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as ErrorBody).error.code).toBe('INVALID_JSON');
  });

  it('answers 415 when the body is not JSON', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request('/call-tool', {
      method: 'POST',
      headers: bearer(ADMIN, { 'content-type': 'text/plain' }),
      body: 'x',
    });
    expect(res.status).toBe(415);
  });

  it('answers 401 without a token', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request('/call-tool', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(401);
  });

  it('answers 403 naming the missing capability when a read-scoped token calls a mutating tool', async () => {
    const { app } = await createTestToolServer();
    const before = probes.restarted.length;
    const res = await app.request(
      '/call-tool',
      postJson(READER, { name: 'restart_thing', args: { name: 'grafana' } }),
    );
    expect(res.status).toBe(403);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('CAPABILITY_DENIED');
    expect(body.error.missing).toEqual(['host.docker.write']);
    expect(probes.restarted.length).toBe(before);
    const allowed = await app.request(
      '/call-tool',
      postJson(WRITER, { name: 'restart_thing', args: { name: 'grafana' } }),
    );
    expect(allowed.status).toBe(200);
    expect(probes.restarted.at(-1)).toBe('grafana');
  });

  it('answers 404 for an unknown tool', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request('/call-tool', postJson(ADMIN, { name: 'rm_rf', args: {} }));
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.code).toBe('TOOL_NOT_FOUND');
  });

  it('answers 413 for a body over the limit, by header and by stream', async () => {
    const { app } = await createTestToolServer({ bodyLimitBytes: 2048 });
    const big = JSON.stringify({ name: 'normalize_whitespace', args: { text: 'a '.repeat(5000) } });
    const res = await app.request('/call-tool', postJson(ADMIN, big));
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe('PAYLOAD_TOO_LARGE');
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const chunked = await app.request('/call-tool', {
      method: 'POST',
      headers: bearer(ADMIN, { 'content-type': 'application/json' }),
      body: stream,
      duplex: 'half',
    });
    expect(chunked.status).toBe(413);
  });

  it('answers 504 at the tool deadline and aborts the tool work', async () => {
    const { app } = await createTestToolServer();
    const before = probes.aborted;
    const res = await app.request('/call-tool', postJson(ADMIN, { name: 'slow_tool' }));
    expect(res.status).toBe(504);
    expect(((await res.json()) as ErrorBody).error.code).toBe('TOOL_TIMEOUT');
    expect(probes.aborted).toBe(before + 1);
  });

  it('answers 502 when a result is over the tool output budget', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request('/call-tool', postJson(ADMIN, { name: 'big_output' }));
    expect(res.status).toBe(502);
    expect(((await res.json()) as ErrorBody).error.code).toBe('TOOL_OUTPUT_TOO_LARGE');
  });

  it('answers 500 TOOL_FAILED when a handler throws', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request('/call-tool', postJson(ADMIN, { name: 'broken_tool' }));
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({
      error: { code: 'TOOL_FAILED', message: 'tool broken_tool failed: disk on fire' },
    });
  });

  it('answers 403 URL_REFUSED when http_get targets the metadata address', async () => {
    const { app } = await createTestToolServer();
    const res = await app.request(
      '/call-tool',
      postJson(READER, {
        name: 'http_get',
        args: { url: 'http://169.254.169.254/latest/meta-data/' },
      }),
    );
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      error: { code: 'URL_REFUSED', reason: 'denied-address' },
    });
  });
});

describe('GET /openapi.json and /plugins', () => {
  it('describes every route the server answers', async () => {
    const { app } = await createTestToolServer();
    const doc = (await (
      await app.request('/openapi.json', { headers: bearer(READER) })
    ).json()) as { openapi: string; paths: object };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/healthz',
        '/metrics',
        '/tools',
        '/call-tool',
        '/mcp',
        '/v1/chat/completions',
        '/audit',
      ]),
    );
  });

  it('lists loaded and skipped plugins with reasons', async () => {
    const { app } = await createTestToolServer();
    const body = (await (await app.request('/plugins', { headers: bearer(READER) })).json()) as {
      plugins: { id: string; loaded: boolean; reason?: string }[];
    };
    expect(body.plugins.find((p) => p.id === 'core')?.loaded).toBe(true);
    expect(body.plugins.find((p) => p.id === 'llm')).toMatchObject({
      loaded: false,
      reason: expect.stringContaining('LLM_BASE_URL'),
    });
  });
});
