import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@datamancy/core';
import { startTestGateway, toneWav, type ErrorBody, type TestGateway } from './helpers.ts';

const MAX_UPLOAD = 64 * 1024;
const wav = toneWav({ rate: 16000, channels: 1, seconds: 0.2 });

async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ((await res.json()) as ErrorBody).error;
}

describe('bad requests to the local backends', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway({
      maxUploadBytes: MAX_UPLOAD,
      maxInputChars: 100,
      tts: { aliases: { alloy: 'en-us' } },
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('answers /healthz without a token, and 401 to every other route without a valid one', async () => {
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      service: 'speech-gateway',
      stt: 'pocketsphinx',
      tts: 'espeak-ng',
      ffmpeg: false,
    });
    for (const path of ['/v1/models', '/metrics', '/openapi.json']) {
      expect((await fetch(`${gateway.url}${path}`)).status, path).toBe(401);
    }
    const form = new FormData();
    form.append('file', new Blob([wav]), 'a.wav');
    const noToken = await fetch(`${gateway.url}/v1/audio/transcriptions`, {
      method: 'POST',
      body: form,
    });
    expect(noToken.status).toBe(401);
    const wrongToken = await fetch(`${gateway.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'hi' }),
    });
    expect(wrongToken.status).toBe(401);
    expect((await errorOf(wrongToken)).code).toBe('UNAUTHORIZED');
  });

  it('answers 400 naming "file" for a body that is not multipart', async () => {
    const res = await fetch(`${gateway.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { ...gateway.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ file: 'abc' }),
    });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.issues).toEqual([{ path: 'file', message: expect.stringContaining('multipart') }]);
  });

  it('answers 400 naming "file" for a broken multipart body', async () => {
    const res = await fetch(`${gateway.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { ...gateway.auth, 'content-type': 'multipart/form-data; boundary=xyz' },
      body: 'this is not multipart at all',
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).issues?.[0]).toEqual({
      path: 'file',
      message: 'the body is not valid multipart/form-data',
    });
  });

  it.each([
    ['missing', undefined, 'missing'],
    ['empty', Buffer.alloc(0), 'empty'],
    ['not audio', Buffer.from('hello there, not audio'), 'unrecognised audio'],
    ['a truncated WAV', wav.subarray(0, 40), 'unreadable WAV'],
    ['a WAV without samples', wav.subarray(0, 44), 'no audio samples'],
    [
      'an mp3 (no ffmpeg here)',
      Buffer.from('ID3\u0004\0\0\0\0\0\0 frames'),
      'mp3 is not supported here',
    ],
  ])('answers 400 naming "file" for an upload that is %s', async (_, bytes, message) => {
    const res = await gateway.transcribe({}, bytes === undefined ? undefined : { bytes });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.issues?.[0]?.path).toBe('file');
    expect(error.issues?.[0]?.message).toContain(message);
  });

  it('says which upload formats work when it cannot read one', async () => {
    const res = await gateway.transcribe({}, { bytes: Buffer.from('OggS\0\u0002 opus') });
    expect((await errorOf(res)).message).toContain('send WAV (PCM 8/16/24/32-bit');
  });

  it('answers 400 naming "file" when the file is sent as a text field', async () => {
    const res = await gateway.transcribe({ file: 'speech.wav' });
    expect((await errorOf(res)).issues?.[0]).toMatchObject({ path: 'file' });
  });

  it.each([
    [{ response_format: 'mp3' }, 'response_format'],
    [{ model: 'gpt-4o-transcribe' }, 'model'],
    [{ language: 'de' }, 'language'],
    [{ language: 'english' }, 'language'],
    [{ temperature: '3' }, 'temperature'],
  ])('answers 400 naming the field for %j', async (fields, path) => {
    const res = await gateway.transcribe(fields, { bytes: wav });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).issues?.[0]?.path).toBe(path);
  });

  it('answers 413 for a file over the limit, by size, by declared length and while streaming', async () => {
    const big = await gateway.transcribe({}, { bytes: Buffer.alloc(MAX_UPLOAD + 1) });
    expect(big.status).toBe(413);
    expect(await errorOf(big)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });

    const huge = await gateway.transcribe({}, { bytes: Buffer.alloc(3 * 1024 * 1024) });
    expect(huge.status).toBe(413);

    // no content-length: the limit is enforced on the bytes as they arrive
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 3 * 1024 * 1024) controller.close();
        else controller.enqueue(new Uint8Array(64 * 1024));
        sent += 64 * 1024;
      },
    });
    const streamed = await fetch(`${gateway.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { ...gateway.auth, 'content-type': 'multipart/form-data; boundary=b' },
      body: stream,
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
  });

  it.each([
    [{ input: 'hi', voice: 'klingon' }, 'voice'],
    [{ input: 'hi', voice: 'en-us+nosuchvariant' }, 'voice'],
    [{ input: 'hi', response_format: 'mp3' }, 'response_format'],
    [{ input: 'hi', response_format: 'ogg' }, 'response_format'],
    [{ input: 'hi', model: 'tts-2' }, 'model'],
    [{ input: '   ' }, 'input'],
    [{ input: 'x'.repeat(101) }, 'input'],
    [{ voice: 'en-us' }, 'input'],
    [{ input: 'hi', speed: 10 }, 'speed'],
  ])('answers 400 naming the field for the speech request %j', async (body, path) => {
    const res = await gateway.speech(body);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).issues?.[0]?.path).toBe(path);
  });

  it('names the formats it can answer in when asked for mp3 without ffmpeg', async () => {
    const res = await gateway.speech({ input: 'hi', response_format: 'mp3' });
    expect((await errorOf(res)).message).toContain('espeak-ng answers in wav, pcm');
  });

  it('answers 415 to a speech body that is not JSON and 400 to broken JSON', async () => {
    const url = `${gateway.url}/v1/audio/speech`;
    const text = await fetch(url, { method: 'POST', headers: gateway.auth, body: 'hello' });
    expect(text.status).toBe(415);
    const broken = await fetch(url, {
      method: 'POST',
      headers: { ...gateway.auth, 'content-type': 'application/json' },
      body: '{"input": ',
    });
    expect(broken.status).toBe(400);
    expect((await errorOf(broken)).code).toBe('INVALID_JSON');
  });

  it('maps a configured alias to a backend voice, and accepts espeak variants', async () => {
    expect((await gateway.speech({ input: 'hi', voice: 'alloy' })).status).toBe(200);
    expect((await gateway.speech({ input: 'hi', voice: 'en-us+f3' })).status).toBe(200);
  });

  it('counts jobs by outcome in /metrics', async () => {
    const text = await (await gateway.get('/metrics')).text();
    expect(text).toMatch(
      /speech_jobs_total\{operation="speech",backend="local",outcome="ok"[^}]*\} \d+/,
    );
    expect(text).toContain('speech_backend_duration_seconds_bucket');
    expect(text).toContain('speech_queue_depth');
  });
});

describe('limits and logs', () => {
  it('answers 429 with Retry-After when every slot is busy and the queue is full', async () => {
    const gateway = await startTestGateway({ maxConcurrency: 1, maxQueue: 0 });
    try {
      // open-vocabulary recognition takes pocketsphinx most of a second: long enough to overlap
      const speech = new Uint8Array(
        await (await gateway.speech({ input: 'restart the database' })).arrayBuffer(),
      );
      const answers = await Promise.all([
        gateway.transcribe({}, { bytes: speech }),
        new Promise((resolve) => setTimeout(resolve, 100)).then(() =>
          gateway.transcribe({}, { bytes: speech }),
        ),
      ]);
      // whichever got the slot first answers; the other finds no slot and no queue
      expect(answers.map((r) => r.status).sort()).toEqual([200, 429]);
      const refused = answers.find((r) => r.status === 429)!;
      expect(refused.headers.get('retry-after')).toBe('1');
      expect((await errorOf(refused)).code).toBe('RATE_LIMITED');
    } finally {
      await gateway.close();
    }
  });

  it('warns at start-up about a missing program and answers 502 naming it', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const gateway = await startTestGateway(
      { tts: { local: { command: 'espeak-ng-not-installed' } } },
      { logger: createLogger({ level: 'warn', destination }) },
    );
    try {
      expect(lines.join('')).toContain('espeak-ng-not-installed is not installed');
      const res = await gateway.speech({ input: 'hi', voice: 'en-us' });
      expect(res.status).toBe(502);
      const error = await errorOf(res);
      expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', backend: 'espeak-ng' });
      expect(error.message).toContain('not installed');
    } finally {
      await gateway.close();
    }
  });

  it('never writes the bearer token or the upstream key into its log', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const KEY = 'sk-secret-upstream-key-123';
    const gateway = await startTestGateway(
      { stt: { backend: 'openai', url: 'http://127.0.0.1:9/v1', apiKeyEnv: 'K' } },
      { env: { K: KEY }, logger: createLogger({ level: 'trace', destination }) },
    );
    try {
      const res = await gateway.transcribe({}, { bytes: wav });
      expect(res.status).toBe(502);
      await gateway.speech({ input: 'hi' });
    } finally {
      await gateway.close();
    }
    const log = lines.join('');
    expect(log).toContain('request failed'); // the 502 was logged...
    expect(log).not.toContain(KEY); // ...without the key
    expect(log).not.toContain(gateway.auth.authorization.slice(7));
  });
});
