import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsrfGuard, DEFAULT_ALLOW_HOSTS } from '@datamancy/core';
import {
  startHttpFixture,
  startScriptedOpenAi,
  type FixtureServer,
  type ScriptedOpenAi,
} from '@datamancy/testkit';
import { runAiCheck } from '../src/checks/ai.ts';
import { ProbeHttp } from '../src/checks/http.ts';
import type { AiCheck } from '../src/manifest/schema.ts';

/**
 * AI real-path checks against servers speaking the OpenAI wire protocol: a scripted chat and
 * embedding server (with an API key), and a speech endpoint answering WAV bytes.
 */

const KEY = 'sk-probe-test-key-0123456789';
let llm: ScriptedOpenAi;
let speech: FixtureServer;
let http: ProbeHttp;

beforeAll(async () => {
  llm = await startScriptedOpenAi(
    [{ content: 'ok' }, { status: 500, error: 'CUDA out of memory' }],
    { apiKey: KEY },
  );
  speech = await startHttpFixture((req, res) => {
    const wav = Buffer.alloc(2048);
    wav.write('RIFF', 0);
    if (req.url === '/v1/audio/speech') {
      res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav);
    } else if (req.url === '/slow/v1/audio/speech') {
      setTimeout(() => res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav), 150);
    } else res.writeHead(200, { 'content-type': 'application/json' }).end('{"not":"audio"}');
  });
  http = new ProbeHttp(createSsrfGuard({ allowHosts: DEFAULT_ALLOW_HOSTS }));
});
afterAll(async () => {
  http?.close();
  await llm?.close();
  await speech?.close();
});

const check = (over: Partial<AiCheck>): AiCheck => ({
  kind: 'ai',
  name: 'ai',
  critical: true,
  timeoutMs: 5000,
  retries: 0,
  url: llm.baseUrl,
  mode: 'chat',
  model: 'tiny',
  apiKeyEnv: 'PROBE_TEST_LLM_KEY',
  ...over,
});
const env = { PROBE_TEST_LLM_KEY: KEY };
const signal = () => AbortSignal.timeout(5000);

describe('ai checks', () => {
  it('passes a 1-token chat completion on the real model, then fails on an upstream error', async () => {
    const ok = await runAiCheck(http, check({}), signal(), env);
    expect(ok).toMatchObject({
      status: 'pass',
      evidence: { httpStatus: 200, ai: { mode: 'chat', model: 'tiny' } },
    });
    const request = llm.requests.find((r) => r.path === '/v1/chat/completions');
    expect(request?.body).toMatchObject({ model: 'tiny', max_tokens: 1 });
    expect(request?.headers.authorization).toBe(`Bearer ${KEY}`);
    const broken = await runAiCheck(http, check({}), signal(), env);
    expect(broken.status).toBe('fail');
    expect(broken.evidence.reasons).toEqual(['status 500']);
    expect(broken.evidence.textExcerpt).toContain('CUDA out of memory');
  });

  it('embeds one text and fails without the API key', async () => {
    const ok = await runAiCheck(http, check({ mode: 'embedding', model: 'embed' }), signal(), env);
    expect(ok.status).toBe('pass');
    const noKey = await runAiCheck(
      http,
      check({ mode: 'embedding', model: 'embed' }),
      signal(),
      {},
    );
    expect(noKey).toMatchObject({ status: 'fail', evidence: { httpStatus: 401 } });
  });

  it('speaks one word as audio, and a non-audio answer fails', async () => {
    const ok = await runAiCheck(
      http,
      check({ url: `${speech.url}/v1`, mode: 'speech', model: 'piper' }),
      signal(),
      env,
    );
    expect(ok).toMatchObject({
      status: 'pass',
      message: expect.stringContaining('speech with piper'),
    });
    const wrong = await runAiCheck(
      http,
      check({ url: `${speech.url}/v2`, mode: 'speech', model: 'piper' }),
      signal(),
      env,
    );
    expect(wrong.status).toBe('fail');
    expect(wrong.evidence.reasons[0]).toMatch(/expected audio, got application\/json/);
  });

  it('is degraded over its latency budget and fails when nothing listens', async () => {
    const slow = await runAiCheck(
      http,
      check({ url: `${speech.url}/slow/v1`, mode: 'speech', model: 'piper', latencyBudgetMs: 50 }),
      signal(),
      env,
    );
    expect(slow).toMatchObject({
      status: 'degraded',
      evidence: { reasons: [expect.stringMatching(/budget 50 ms/)] },
    });
    const gone = await runAiCheck(http, check({ url: 'http://127.0.0.1:1/v1' }), signal(), env);
    expect(gone).toMatchObject({ status: 'fail', evidence: { error: { code: 'ECONNREFUSED' } } });
  });
});
