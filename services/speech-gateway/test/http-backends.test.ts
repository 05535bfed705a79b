import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { startTestGateway, toneWav, type ErrorBody, type TestGateway } from './helpers.ts';

/** What a fixture upstream was sent. */
interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  form?: FormData;
}

function readRequest(req: IncomingMessage): Promise<Received> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = req.headers['content-type'] ?? '';
      const base = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      if (!type.startsWith('multipart/form-data')) {
        resolve(base);
        return;
      }
      new Response(body, { headers: { 'content-type': type } })
        .formData()
        .then((form) => resolve({ ...base, form }), reject);
    });
  });
}

/** An upstream that records each request and answers with `respond` (or never, for 'hang'). */
async function startUpstream(
  respond: (req: Received, res: ServerResponse) => void | 'hang',
): Promise<FixtureServer & { received: Received[] }> {
  const received: Received[] = [];
  const fixture = await startHttpFixture((req, res) => {
    void readRequest(req).then((r) => {
      received.push(r);
      respond(r, res);
    });
  });
  return Object.assign(fixture, { received });
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const WHISPER_RESULT = {
  text: ' Restart the database. Then check the disk.',
  segments: [
    {
      id: 0,
      seek: 0,
      start: 0.0,
      end: 1.5,
      text: ' Restart the database.',
      tokens: [50364, 37245],
      temperature: 0.0,
      avg_logprob: -0.21,
      compression_ratio: 0.9,
      no_speech_prob: 0.01,
    },
    {
      id: 1,
      seek: 0,
      start: 1.5,
      end: 3.25,
      text: ' Then check the disk.',
      tokens: [50439],
      temperature: 0.0,
      avg_logprob: -0.3,
      compression_ratio: 0.9,
      no_speech_prob: 0.02,
    },
  ],
  language: 'en',
};

const wav = toneWav({ rate: 16000, channels: 1, seconds: 3.25 });

describe('whisper-asr-webservice backend', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gateway: TestGateway;
  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url.startsWith('/asr')) json(res, 200, WHISPER_RESULT);
      else json(res, 404, { detail: 'Not Found' });
    });
    gateway = await startTestGateway({
      stt: { backend: 'whisper-asr', url: `${upstream.url}/`, timeoutMs: 2000 },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('posts the upload as audio_file to /asr with task, language, JSON output and the prompt', async () => {
    upstream.received.length = 0;
    const res = await gateway.transcribe(
      { model: 'whisper-1', language: 'en', prompt: 'database, disk' },
      { bytes: wav, name: 'meeting.wav', type: 'audio/x-wav' },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: 'Restart the database. Then check the disk.' });
    const [sent] = upstream.received;
    const url = new URL(sent!.url, upstream.url);
    expect(sent!.method).toBe('POST');
    expect(url.pathname).toBe('/asr');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      task: 'transcribe',
      output: 'json',
      encode: 'true',
      language: 'en',
      initial_prompt: 'database, disk',
    });
    const file = sent!.form?.get('audio_file') as File;
    expect(file.name).toBe('meeting.wav');
    expect(file.type).toBe('audio/x-wav');
    expect(Buffer.from(await file.arrayBuffer()).equals(wav)).toBe(true);
  });

  it("maps whisper's segments to verbose_json, keeping its per-segment fields", async () => {
    const res = await gateway.transcribe({ response_format: 'verbose_json' }, { bytes: wav });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      task: 'transcribe',
      language: 'en',
      duration: 3.25,
      text: 'Restart the database. Then check the disk.',
    });
    expect(body.segments).toEqual([
      expect.objectContaining({
        id: 0,
        start: 0,
        end: 1.5,
        text: 'Restart the database.',
        avg_logprob: -0.21,
      }),
      expect.objectContaining({
        id: 1,
        start: 1.5,
        end: 3.25,
        text: 'Then check the disk.',
        tokens: [50439],
      }),
    ]);
  });

  it('writes srt and vtt subtitles from the segments', async () => {
    const srt = await gateway.transcribe({ response_format: 'srt' }, { bytes: wav });
    expect(await srt.text()).toBe(
      '1\n00:00:00,000 --> 00:00:01,500\nRestart the database.\n\n2\n00:00:01,500 --> 00:00:03,250\nThen check the disk.\n\n',
    );
    const vtt = await gateway.transcribe({ response_format: 'vtt' }, { bytes: wav });
    expect(vtt.headers.get('content-type')).toMatch(/^text\/vtt/);
    expect(await vtt.text()).toMatch(
      /^WEBVTT\n\n00:00:00\.000 --> 00:00:01\.500\nRestart the database\.\n/,
    );
  });

  it('passes other audio formats on as they are, but refuses what is not audio', async () => {
    upstream.received.length = 0;
    const mp3 = Buffer.concat([Buffer.from('ID3\u0004\0\0\0\0\0\0'), Buffer.alloc(100, 0xaa)]);
    expect(
      (await gateway.transcribe({}, { bytes: mp3, name: 'a.mp3', type: 'audio/mpeg' })).status,
    ).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const text = await gateway.transcribe(
      {},
      { bytes: Buffer.from('just some text'), name: 'a.txt' },
    );
    expect(text.status).toBe(400);
    expect(((await text.json()) as ErrorBody).error.issues?.[0]?.path).toBe('file');
    expect(upstream.received).toHaveLength(1);
  });
});

describe('OpenAI-compatible upstream backend', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gateway: TestGateway;
  const KEY = 'sk-test-upstream-key';
  const MP3 = Buffer.concat([Buffer.from('ID3\u0004\0\0\0\0\0\0'), Buffer.alloc(4000, 0x55)]);
  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        json(res, 401, { error: { message: 'bad key' } });
      } else if (req.url === '/v1/audio/transcriptions') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('restart the database\n');
      } else if (req.url === '/v1/audio/speech') {
        res.writeHead(200, { 'content-type': 'audio/mpeg' });
        res.write(MP3.subarray(0, 1000)); // streamed in two parts
        setTimeout(() => res.end(MP3.subarray(1000)), 20);
      } else {
        json(res, 404, { error: { message: 'no such route' } });
      }
    });
    gateway = await startTestGateway(
      {
        stt: {
          backend: 'openai',
          url: `${upstream.url}/v1`,
          apiKeyEnv: 'UPSTREAM_KEY',
          upstreamModel: 'whisper-large-v3',
        },
        tts: { backend: 'openai', url: `${upstream.url}/v1`, apiKeyEnv: 'UPSTREAM_KEY' },
      },
      { env: { UPSTREAM_KEY: KEY } },
    );
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('forwards the multipart request with the key and upstream model, and passes the answer on', async () => {
    upstream.received.length = 0;
    const res = await gateway.transcribe(
      {
        model: 'whisper-1',
        response_format: 'text',
        language: 'en',
        prompt: 'ops',
        temperature: '0.2',
      },
      { bytes: wav, name: 'speech.wav' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('restart the database\n');
    const form = upstream.received[0]!.form!;
    expect(upstream.received[0]!.url).toBe('/v1/audio/transcriptions');
    expect({
      model: form.get('model'),
      response_format: form.get('response_format'),
      language: form.get('language'),
      prompt: form.get('prompt'),
      temperature: form.get('temperature'),
    }).toEqual({
      model: 'whisper-large-v3',
      response_format: 'text',
      language: 'en',
      prompt: 'ops',
      temperature: '0.2',
    });
    const file = form.get('file') as File;
    expect(Buffer.from(await file.arrayBuffer()).equals(wav)).toBe(true);
  });

  it('forwards a speech request as JSON and streams the mp3 back (mp3 by default)', async () => {
    upstream.received.length = 0;
    const res = await gateway.speech({
      model: 'tts-1',
      input: 'hello',
      voice: 'nova',
      speed: 1.25,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(Buffer.from(await res.arrayBuffer()).equals(MP3)).toBe(true);
    const sent = upstream.received[0]!;
    expect(sent.url).toBe('/v1/audio/speech');
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(JSON.parse(sent.body.toString())).toEqual({
      model: 'tts-1',
      input: 'hello',
      voice: 'nova',
      response_format: 'mp3',
      speed: 1.25,
    });
  });

  it("offers OpenAI's voices and formats, and refuses an espeak voice naming the field", async () => {
    const models = (await (await gateway.get('/v1/models')).json()) as {
      data: { id: string; voices?: string[]; response_formats: string[] }[];
    };
    const tts = models.data.find((m) => m.id === 'tts-1')!;
    expect(tts.voices).toContain('alloy');
    expect(tts.response_formats).toEqual(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']);
    const res = await gateway.speech({ input: 'hi', voice: 'en-us' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.issues?.[0]?.path).toBe('voice');
  });

  it('does not start when the named key variable is not set', async () => {
    await expect(
      startTestGateway(
        { stt: { backend: 'openai', url: 'http://127.0.0.1:9/v1', apiKeyEnv: 'MISSING_KEY' } },
        { env: {} },
      ),
    ).rejects.toThrow('speechGateway.stt.apiKeyEnv names MISSING_KEY');
  });
});

describe('upstream failures', () => {
  it('answers 502 naming the backend when the upstream fails or is down', async () => {
    const failing = await startUpstream((_req, res) =>
      json(res, 500, { detail: 'CUDA out of memory' }),
    );
    const down = await startHttpFixture(() => undefined);
    await down.close();
    const gateway = await startTestGateway({ stt: { backend: 'whisper-asr', url: failing.url } });
    const gatewayDown = await startTestGateway({
      stt: { backend: 'openai', url: `${down.url}/v1` },
      tts: { backend: 'openai', url: `${down.url}/v1` },
    });
    try {
      const res = await gateway.transcribe({}, { bytes: wav });
      expect(res.status).toBe(502);
      const body = (await res.json()) as ErrorBody & { error: { upstreamStatus?: number } };
      expect(body.error).toMatchObject({
        code: 'UPSTREAM_ERROR',
        backend: 'whisper-asr',
        upstreamStatus: 500,
      });
      expect(body.error.message).toContain('CUDA out of memory');

      const stt = await gatewayDown.transcribe({}, { bytes: wav });
      expect(stt.status).toBe(502);
      const sttBody = (await stt.json()) as ErrorBody;
      expect(sttBody.error.backend).toBe('openai');
      expect(sttBody.error.message).toContain('ECONNREFUSED');
      const tts = await gatewayDown.speech({ input: 'hi', voice: 'alloy' });
      expect(tts.status).toBe(502);
    } finally {
      await gateway.close();
      await gatewayDown.close();
      await failing.close();
    }
  });

  it('answers 504 within the configured timeout when the upstream hangs', async () => {
    const hanging = await startUpstream(() => 'hang');
    const gateway = await startTestGateway({
      stt: { backend: 'whisper-asr', url: hanging.url, timeoutMs: 300 },
      tts: { backend: 'openai', url: `${hanging.url}/v1`, timeoutMs: 300 },
    });
    try {
      const started = Date.now();
      const res = await gateway.transcribe({}, { bytes: wav });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(504);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(2000);
      expect(((await res.json()) as ErrorBody).error).toMatchObject({
        code: 'UPSTREAM_TIMEOUT',
        backend: 'whisper-asr',
      });
      const tts = await gateway.speech({ input: 'hi', voice: 'alloy' });
      expect(tts.status).toBe(504);
      expect(((await tts.json()) as ErrorBody).error.backend).toBe('openai');
    } finally {
      await gateway.close();
      await hanging.close();
    }
  });
});
