import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import {
  ADMIN,
  OUTSIDER,
  SCRAPER,
  SPEAKER,
  startTestGateway,
  toneWav,
  type ErrorBody,
  type TestGateway,
} from './helpers.ts';

/**
 * Who may use speech: a token with `speech.use` (or admin). Any other token is refused with a
 * 403 naming the scope before the upload is read or a backend called: the upstream sees
 * nothing, the local programs run no job.
 */

const wav = toneWav({ rate: 16000, channels: 1, seconds: 0.2 });

interface Forbidden {
  error: ErrorBody['error'] & { missing?: string[] };
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', resolve);
  });
}

async function expectForbidden(res: Response, scope = 'speech.use'): Promise<void> {
  expect(res.status).toBe(403);
  const body = (await res.json()) as Forbidden;
  expect(body.error).toMatchObject({ code: 'FORBIDDEN', missing: [scope] });
  expect(body.error.message).toContain(`"${scope}"`);
}

describe('speech gateway scopes, in front of an HTTP upstream', () => {
  let upstream: FixtureServer;
  let gateway: TestGateway;
  beforeAll(async () => {
    upstream = await startHttpFixture((req, res) => {
      void drain(req).then(() => {
        if (req.url === '/v1/audio/transcriptions') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ text: 'restart the database' }));
        } else if (req.url === '/v1/audio/speech') {
          res.writeHead(200, { 'content-type': 'audio/mpeg' });
          res.end(Buffer.from([0xff, 0xfb, 0x90, 0x00]));
        } else {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"no such route"}}');
        }
      });
    });
    gateway = await startTestGateway({
      stt: { backend: 'openai', url: `${upstream.url}/v1` },
      tts: { backend: 'openai', url: `${upstream.url}/v1` },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('refuses transcription and synthesis to a token without speech.use; the upstream gets nothing', async () => {
    upstream.hits.length = 0;
    for (const token of [OUTSIDER, SCRAPER]) {
      await expectForbidden(await gateway.transcribe({}, { bytes: wav }, token));
      await expectForbidden(await gateway.speech({ input: 'restart', voice: 'alloy' }, token));
      await expectForbidden(await gateway.get('/v1/models', token));
      await expectForbidden(await gateway.get('/openapi.json', token));
    }
    expect(upstream.hits).toEqual([]);
  });

  it('refuses before reading the upload: a body over the size limit is still 403, not 413', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(30 * 1024 * 1024)]), 'big.wav');
    const res = await fetch(`${gateway.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OUTSIDER}` },
      body: form,
    });
    await expectForbidden(res);
    expect(upstream.hits).toEqual([]);
  });

  it('passes a token with speech.use through to the upstream', async () => {
    upstream.hits.length = 0;
    const res = await gateway.transcribe({}, { bytes: wav }, SPEAKER);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: 'restart the database' });
    const spoken = await gateway.speech({ input: 'restart', voice: 'alloy' }, SPEAKER);
    expect(spoken.status).toBe(200);
    expect(upstream.hits).toEqual(['/v1/audio/transcriptions', '/v1/audio/speech']);
  });

  it('serves /metrics to metrics.read and admin only; a speech.use token cannot read it', async () => {
    await expectForbidden(await gateway.get('/metrics', SPEAKER), 'metrics.read');
    await expectForbidden(await gateway.get('/metrics', OUTSIDER), 'metrics.read');
    const scraped = await gateway.get('/metrics', SCRAPER);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('speech_jobs_total');
    expect((await gateway.get('/metrics', ADMIN)).status).toBe(200);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });
});

describe('speech gateway scopes, with the local programs', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const jobsCounted = async (): Promise<number> => {
    const text = await (await gateway.get('/metrics', SCRAPER)).text();
    return [...text.matchAll(/^speech_jobs_total\{[^}]*\} (\d+)$/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  };

  it('runs no synthesis or recognition for a token without speech.use', async () => {
    const before = await jobsCounted();
    await expectForbidden(await gateway.speech({ input: 'hello' }, OUTSIDER));
    await expectForbidden(await gateway.transcribe({}, { bytes: wav }, OUTSIDER));
    expect(await jobsCounted()).toBe(before);
    const allowed = await gateway.speech({ input: 'hello' }, SPEAKER);
    expect(allowed.status).toBe(200);
    expect(await jobsCounted()).toBe(before + 1);
  });
});
