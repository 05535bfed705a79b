import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavToSpeechPcm } from '../src/audio/prepare.ts';
import { int16Bytes } from '../src/audio/wav.ts';
import { startTestGateway, type ErrorBody, type TestGateway } from './helpers.ts';

/**
 * ffmpeg is not installed here, so a stand-in script takes its place: it records its arguments
 * and answers the two ways the gateway calls ffmpeg (decode to s16le, encode a WAV), which
 * tests the gateway's side of the wiring: when it calls ffmpeg, with what, and what it does
 * with the answer.
 */
describe('with ffmpeg (a stand-in)', () => {
  let dir: string;
  let gateway: TestGateway;
  let decoded: Buffer;
  const script = () => join(dir, 'ffmpeg');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'speech-ffmpeg-'));
    // what the real ffmpeg would decode an upload to: 16 kHz mono s16le of spoken words
    const local = await startTestGateway();
    const spoken = await local.speech({ input: 'restart the database' });
    decoded = Buffer.from(
      int16Bytes(wavToSpeechPcm(new Uint8Array(await spoken.arrayBuffer())).samples),
    );
    await local.close();
    writeFileSync(join(dir, 'decoded.pcm'), decoded);
    writeFileSync(
      script(),
      [
        '#!/bin/sh',
        'printf "%s\\n" "$*" >> "$0.args"',
        'case "$*" in',
        // the input file is the sixth argument: -hide_banner -loglevel error -nostdin -i <file>
        `  *s16le*) grep -q garbage "$6" && { echo "Invalid data found" >&2; exit 1; }; cat "${dir}/decoded.pcm" ;;`,
        `  *libmp3lame*) head -c 4 > "$0.stdin"; cat > /dev/null; printf 'ID3-encoded' ;;`,
        '  *) exit 2 ;;',
        'esac',
        '',
      ].join('\n'),
    );
    chmodSync(script(), 0o755);
    gateway = await startTestGateway({ ffmpeg: script() });
  });
  afterAll(async () => {
    await gateway?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('decodes an mp3 upload through ffmpeg to 16 kHz mono and recognises it', async () => {
    const mp3 = Buffer.concat([Buffer.from('ID3\u0004\0\0\0\0\0\0'), Buffer.alloc(2000, 1)]);
    const res = await gateway.transcribe(
      { prompt: 'restart the database|hello world' },
      { bytes: mp3, name: 'a.mp3', type: 'audio/mpeg' },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: 'restart the database' });
    const args = readFileSync(`${script()}.args`, 'utf8').trim().split('\n').pop() ?? '';
    expect(args).toMatch(/-i \S+\/input -vn -ac 1 -ar 16000 -f s16le -acodec pcm_s16le pipe:1$/);
  });

  it('answers 400 naming "file" when ffmpeg cannot decode the upload', async () => {
    const bad = Buffer.from('OggS garbage that no decoder reads');
    const res = await gateway.transcribe({}, { bytes: bad });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.issues?.[0]).toEqual({
      path: 'file',
      message: 'ffmpeg could not decode the upload (corrupt or not audio)',
    });
  });

  it('offers mp3 and encodes the WAV through ffmpeg', async () => {
    const models = (await (await gateway.get('/v1/models')).json()) as {
      data: { id: string; response_formats: string[] }[];
    };
    expect(models.data.find((m) => m.id === 'tts-1')?.response_formats).toEqual([
      'wav',
      'pcm',
      'mp3',
      'opus',
      'aac',
      'flac',
    ]);
    const res = await gateway.speech({ input: 'hello', response_format: 'mp3' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(await res.text()).toBe('ID3-encoded');
    expect(readFileSync(`${script()}.stdin`, 'utf8')).toBe('RIFF');
  });
});
