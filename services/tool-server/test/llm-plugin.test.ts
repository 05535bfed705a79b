import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeEmbedding, startScriptedOpenAi, type ScriptedOpenAi } from '@datamancy/testkit';
import { ADMIN, createTestToolServer, postJson } from './helpers.ts';

describe('llm plugin against an OpenAI-compatible server', () => {
  let llm: ScriptedOpenAi;
  beforeAll(async () => {
    llm = await startScriptedOpenAi([{ content: 'pong' }, { status: 503, error: 'overloaded' }], {
      apiKey: 'k',
    });
  });
  afterAll(() => llm.close());

  it('llm_chat_completion sends the prompt with the configured model and returns the answer', async () => {
    const { app } = await createTestToolServer({ llmBaseUrl: llm.baseUrl, llmApiKey: 'k' });
    const res = await app.request(
      '/call-tool',
      postJson(ADMIN, {
        name: 'llm_chat_completion',
        args: { prompt: 'ping', system: 'be brief' },
      }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ result: { content: 'pong', finishReason: 'stop' } });
    const sent = llm.requests.at(-1)?.body as { model: string; messages: { role: string }[] };
    expect(sent.model).toBe('default');
    expect(sent.messages.map((m) => m.role)).toEqual(['system', 'user']);
    const failed = await app.request(
      '/call-tool',
      postJson(ADMIN, { name: 'llm_chat_completion', args: { prompt: 'ping' } }),
    );
    expect(failed.status).toBe(502);
    expect(await failed.json()).toMatchObject({
      error: { code: 'UPSTREAM_ERROR', upstreamStatus: 503 },
    });
  });

  it('llm_chat_completion wants exactly one of prompt or messages', async () => {
    const { app } = await createTestToolServer({ llmBaseUrl: llm.baseUrl, llmApiKey: 'k' });
    const res = await app.request(
      '/call-tool',
      postJson(ADMIN, { name: 'llm_chat_completion', args: {} }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { issues: [{ path: 'args.prompt' }] } });
  });

  it('llm_embed_text returns one vector per input, in order', async () => {
    const { app } = await createTestToolServer({ llmBaseUrl: llm.baseUrl, llmApiKey: 'k' });
    const res = await app.request(
      '/call-tool',
      postJson(ADMIN, { name: 'llm_embed_text', args: { input: ['alpha', 'beta'] } }),
    );
    const body = (await res.json()) as {
      result: { embeddings: number[][]; dimensions: number; model: string };
    };
    expect(body.result.dimensions).toBe(8);
    expect(body.result.embeddings).toEqual([fakeEmbedding('alpha'), fakeEmbedding('beta')]);
    expect(body.result.model).toBe('embed');
  });
});
