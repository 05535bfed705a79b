import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectAudioFormat } from '../src/audio/detect.ts';
import { ffmpegDecode } from '../src/audio/ffmpeg.ts';
import { CommandError } from '../src/runtime/run-command.ts';
import { startTestGateway, type ErrorBody, type TestGateway } from './helpers.ts';

/**
 * The real ffmpeg (scripts/setup-system.sh installs it), behind a wrapper that records each
 * run, so a test can tell "ffmpeg refused" from "ffmpeg never ran".
 */
const FFMPEG = '/usr/bin/ffmpeg';
const run = promisify(execFile);
const PHRASE = 'restart the database';
const GRAMMAR = `${PHRASE}|hello world`;

let dir: string;
let gateway: TestGateway;
let spoken: Buffer;
/** Requests the loopback server got: a playlist must never make ffmpeg fetch anything. */
let hits: string[];
let server: Server;
let serverUrl: string;
const wrapper = () => join(dir, 'ffmpeg');
const runs = () =>
  existsSync(`${wrapper()}.log`) ? readFileSync(`${wrapper()}.log`, 'utf8').trim().split('\n') : [];

/** The spoken phrase (espeak-ng's WAV) re-encoded by ffmpeg itself. */
async function encode(args: string[], ext: string): Promise<Buffer> {
  const out = join(dir, `spoken.${ext}`);
  await run(FFMPEG, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-i',
    join(dir, 'spoken.wav'),
    ...args,
    out,
  ]);
  return readFileSync(out);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'speech-ffmpeg-'));
  writeFileSync(wrapper(), `#!/bin/sh\nprintf '%s\\n' "$*" >> "$0.log"\nexec ${FFMPEG} "$@"\n`);
  chmodSync(wrapper(), 0o755);
  const local = await startTestGateway();
  spoken = Buffer.from(await (await local.speech({ input: PHRASE })).arrayBuffer());
  await local.close();
  writeFileSync(join(dir, 'spoken.wav'), spoken);
  hits = [];
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end(spoken);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gateway = await startTestGateway({ ffmpeg: wrapper() });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await new Promise((resolve) => server?.close(resolve));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('with the real ffmpeg', () => {
  it.each([
    ['mp3', ['-c:a', 'libmp3lame', '-b:a', '64k'], 'mp3', 'mp3'],
    ['ogg/opus', ['-c:a', 'libopus'], 'ogg', 'ogg'],
    ['ogg/vorbis', ['-c:a', 'libvorbis'], 'ogg', 'ogg'],
    ['webm/opus', ['-c:a', 'libopus'], 'webm', 'webm'],
    ['m4a/aac', ['-c:a', 'aac'], 'm4a', 'mp4'],
    ['flac', ['-c:a', 'flac'], 'flac', 'flac'],
  ])(
    'transcribes %s made by ffmpeg, read with its demuxer forced',
    async (_, args, ext, format) => {
      const bytes = await encode(args, ext);
      expect(detectAudioFormat(bytes)).toBe(format);
      const before = runs().length;
      const res = await gateway.transcribe(
        { prompt: GRAMMAR },
        { bytes, name: `a.${ext}`, type: 'application/octet-stream' },
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ text: PHRASE });
      const args_ = runs().slice(before).join('\n');
      expect(args_).toMatch(/-protocol_whitelist file -format_whitelist (\S+) -f \1 -i /);
    },
  );

  it('answers 400 naming "file" when ffmpeg cannot decode what the first bytes claim', async () => {
    const res = await gateway.transcribe(
      {},
      { bytes: Buffer.from('OggS garbage that no decoder reads') },
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.issues?.[0]).toEqual({
      path: 'file',
      message: 'ffmpeg could not decode the upload as ogg (corrupt or not audio)',
    });
  });

  it('encodes speech answers through ffmpeg (mp3 from a WAV on stdin)', async () => {
    const res = await gateway.speech({ input: 'hello', response_format: 'mp3' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(detectAudioFormat(new Uint8Array(await res.arrayBuffer()))).toBe('mp3');
    expect(runs().at(-1)).toMatch(
      /-protocol_whitelist pipe -format_whitelist wav -f wav -i pipe:0/,
    );
  });
});

describe('ffmpeg reads only what it was handed', () => {
  /** A local audio file of the phrase: what a playlist would smuggle in. */
  const marker = () => join(dir, 'marker.mp3');
  beforeAll(async () => {
    writeFileSync(marker(), await encode(['-c:a', 'libmp3lame'], 'mp3'));
  });

  const playlists = (): [string, string][] => [
    [
      'an HLS playlist naming a loopback URL',
      `#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n${serverUrl}/segment.mp3\n#EXT-X-ENDLIST\n`,
    ],
    [
      'an HLS playlist naming a local file',
      `#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n${marker()}\n#EXT-X-ENDLIST\n`,
    ],
    ['an ffconcat list naming a local file', `ffconcat version 1.0\nfile '${marker()}'\n`],
    [
      'an SDP description',
      `v=0\no=- 0 0 IN IP4 127.0.0.1\nc=IN IP4 127.0.0.1\nm=audio 9 RTP/AVP 0\n`,
    ],
  ];

  it('the local-file playlist is a real threat: ffmpeg left to probe reads the file it names', async () => {
    // The control: without the gateway's options, today's ffmpeg follows it.
    const playlist = join(dir, 'probe-me');
    writeFileSync(playlist, playlists()[1]?.[1] ?? '');
    const { stdout } = await run(
      FFMPEG,
      ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', playlist, '-f', 's16le', 'pipe:1'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
    );
    expect(stdout.length).toBeGreaterThan(16_000);
  });

  it.each([0, 1, 2, 3])(
    'refuses playlist #%i with 400 naming "file", before ffmpeg runs',
    async (i) => {
      const [what, text] = playlists()[i] ?? ['', ''];
      const before = runs().length;
      const res = await gateway.transcribe(
        { prompt: GRAMMAR },
        { bytes: Buffer.from(text), name: 'speech.mp3', type: 'audio/mpeg' },
      );
      const body = await res.text();
      expect(res.status, what).toBe(400);
      expect((JSON.parse(body) as ErrorBody).error.issues?.[0]).toMatchObject({
        path: 'file',
        message: expect.stringContaining('unrecognised audio') as unknown,
      });
      expect(body).not.toContain(PHRASE);
      expect(runs().length).toBe(before);
      expect(hits).toEqual([]);
    },
  );

  it.each(['mp3', 'ogg', 'webm', 'mp4', 'wav', 'flac'] as const)(
    'even handed a playlist as %s, ffmpeg opens neither the URL nor the file',
    async (format) => {
      for (const [, text] of playlists()) {
        const err = await ffmpegDecode(Buffer.from(text), format, 16_000, {
          ffmpeg: FFMPEG,
          timeoutMs: 10_000,
        }).then(
          (samples) => samples,
          (e: unknown) => e,
        );
        // either refused, or whatever the forced demuxer made of the text: never the phrase
        if (err instanceof Int16Array) expect(err.length).toBeLessThan(1600);
        else expect(err).toBeInstanceOf(CommandError);
      }
      expect(hits).toEqual([]);
    },
  );
});
