import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../src/audio/wav.ts';
import { startTestGateway, type ErrorBody, type TestGateway } from './helpers.ts';

/**
 * The embedded default end to end: espeak-ng speaks through `POST /v1/audio/speech`, and
 * pocketsphinx hears it back through `POST /v1/audio/transcriptions`, both real programs.
 */

const PHRASES = [
  'restart the database',
  'hello world',
  'check the disk space',
  'reboot the server',
];

describe('local backends: espeak-ng → pocketsphinx round trip', () => {
  let gateway: TestGateway;
  let wav: Uint8Array;

  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('synthesises "restart the database" as a valid WAV', async () => {
    const res = await gateway.speech({
      model: 'tts-1',
      input: 'restart the database',
      voice: 'en-us',
      response_format: 'wav',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    wav = new Uint8Array(await res.arrayBuffer());
    const info = parseWav(wav);
    expect(info).toMatchObject({ sampleRate: 22050, channels: 1, bitsPerSample: 16 });
    expect(info.durationS).toBeGreaterThan(0.8);
    expect(info.durationS).toBeLessThan(3);
    // the header's sizes are the file's (espeak-ng's streamed placeholder sizes are fixed)
    const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
    expect(view.getUint32(4, true)).toBe(wav.length - 8);
    expect(view.getUint32(40, true)).toBe(wav.length - 44);
    expect(Number(res.headers.get('x-audio-duration-s'))).toBeCloseTo(info.durationS, 2);
  });

  it.each(['json', 'text', 'verbose_json'] as const)(
    'hears exactly "restart the database" against a phrase list in the prompt (%s)',
    async (format) => {
      const res = await gateway.transcribe(
        { model: 'whisper-1', prompt: PHRASES.join('\n'), response_format: format },
        { bytes: wav },
      );
      expect(res.status).toBe(200);
      if (format === 'text') {
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(await res.text()).toBe('restart the database\n');
        return;
      }
      const body = (await res.json()) as Record<string, unknown>;
      expect(body.text).toBe('restart the database');
      if (format === 'verbose_json') {
        expect(body).toMatchObject({ task: 'transcribe', language: 'en' });
        expect(body.duration).toBeCloseTo(parseWav(wav).durationS, 2);
        const words = body.words as { word: string; start: number; end: number }[];
        expect(words.map((w) => w.word)).toEqual(['restart', 'the', 'database']);
        expect(words[0]!.start).toBeLessThan(words[2]!.start);
        const segments = body.segments as { text: string; start: number; end: number }[];
        expect(segments).toHaveLength(1);
        expect(segments[0]).toMatchObject({ id: 0, text: 'restart the database' });
      }
    },
  );

  it('takes the phrases separated by "|" as well', async () => {
    const res = await gateway.transcribe(
      { prompt: 'hello world | Restart the database. | reboot the server' },
      { bytes: wav },
    );
    expect(((await res.json()) as { text: string }).text).toBe('restart the database');
  });

  it('hears "hello world" among the same phrases (the list decides, not its order)', async () => {
    const spoken = await gateway.speech({ input: 'hello world', voice: 'en-us' });
    const res = await gateway.transcribe(
      { prompt: PHRASES.join('|') },
      { bytes: new Uint8Array(await spoken.arrayBuffer()) },
    );
    expect(((await res.json()) as { text: string }).text).toBe('hello world');
  });

  it('transcribes without a phrase list: open vocabulary, a non-empty transcript', async () => {
    const res = await gateway.transcribe({ response_format: 'json' }, { bytes: wav });
    expect(res.status).toBe(200);
    const { text } = (await res.json()) as { text: string };
    expect(text.trim().length).toBeGreaterThan(0);
  });

  it('answers 400 naming the prompt and the words missing from the dictionary', async () => {
    const res = await gateway.transcribe(
      { prompt: 'restart the databse\nhello wurld' },
      { bytes: wav },
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.issues?.[0]?.path).toBe('prompt');
    expect(body.error.unknownWords).toEqual(['databse', 'wurld']);
    expect(body.error.message).toContain('databse');
  });

  it('reads a stereo 48 kHz WAV (downmixed and resampled in-process)', async () => {
    // the synthesised speech, duplicated into two channels and upsampled to 48 kHz
    const info = parseWav(wav);
    const frames = Math.floor((info.frames * 48000) / info.sampleRate);
    const view = new DataView(info.data.buffer, info.data.byteOffset, info.data.byteLength);
    const out = Buffer.alloc(44 + frames * 4);
    out.write('RIFF', 0);
    out.writeUInt32LE(36 + frames * 4, 4);
    out.write('WAVEfmt ', 8);
    out.writeUInt32LE(16, 16);
    out.writeUInt16LE(1, 20);
    out.writeUInt16LE(2, 22);
    out.writeUInt32LE(48000, 24);
    out.writeUInt32LE(48000 * 4, 28);
    out.writeUInt16LE(4, 32);
    out.writeUInt16LE(16, 34);
    out.write('data', 36);
    out.writeUInt32LE(frames * 4, 40);
    for (let f = 0; f < frames; f++) {
      const src = Math.min(info.frames - 1, Math.floor((f * info.sampleRate) / 48000));
      const sample = view.getInt16(src * 2, true);
      out.writeInt16LE(sample, 44 + f * 4);
      out.writeInt16LE(sample, 46 + f * 4);
    }
    const res = await gateway.transcribe({ prompt: PHRASES.join('\n') }, { bytes: out });
    expect(((await res.json()) as { text: string }).text).toBe('restart the database');
  });

  it('answers pcm as 24 kHz mono 16-bit samples without a header', async () => {
    const res = await gateway.speech({ input: 'restart the database', response_format: 'pcm' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/pcm');
    const pcm = new Uint8Array(await res.arrayBuffer());
    const seconds = pcm.length / 2 / 24000;
    expect(seconds).toBeCloseTo(parseWav(wav).durationS, 1);
    expect(String.fromCharCode(...pcm.subarray(0, 4))).not.toBe('RIFF');
  });

  it('speaks slower at speed 0.5 and treats text starting with "-" as text', async () => {
    const normal = await gateway.speech({ input: '-v hello', voice: 'en-us' });
    const slow = await gateway.speech({ input: '-v hello', voice: 'en-us', speed: 0.5 });
    expect(normal.status).toBe(200);
    expect(slow.status).toBe(200);
    const normalS = parseWav(new Uint8Array(await normal.arrayBuffer())).durationS;
    const slowS = parseWav(new Uint8Array(await slow.arrayBuffer())).durationS;
    expect(slowS).toBeGreaterThan(normalS * 1.4);
  });

  it('lists the models with the espeak-ng voices and the formats it can answer in', async () => {
    const res = await gateway.get('/v1/models');
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      object: string;
      data: { id: string; type: string; voices?: string[]; response_formats: string[] }[];
    };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => `${m.type}:${m.id}`)).toEqual([
      'stt:whisper-1',
      'tts:tts-1',
      'tts:tts-1-hd',
    ]);
    const tts = body.data.find((m) => m.id === 'tts-1');
    expect(tts?.voices).toEqual(expect.arrayContaining(['en-us', 'en-gb', 'de']));
    expect(tts?.response_formats).toEqual(['wav', 'pcm']);
  });
});
