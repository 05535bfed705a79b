import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../src/audio/wav.ts';
import { collectAudio, voicesOfInfo } from '../src/backends/wyoming/backends.ts';
import { WyomingError, wyomingExchange } from '../src/backends/wyoming/client.ts';
import {
  decodeAll,
  encodeEvent,
  WyomingDecoder,
  type WyomingEvent,
} from '../src/backends/wyoming/framing.ts';
import { fixture, startTestGateway, toneWav, type ErrorBody, type TestGateway } from './helpers.ts';

/**
 * A Wyoming server on 127.0.0.1 that replays the recorded answers: the client event that ends a
 * request (`describe`, `synthesize`, `audio-stop`) is answered with the recorded server bytes,
 * written in small random pieces so the client's decoder sees partial reads.
 */
interface ReplayServer {
  port: number;
  url: string;
  /** The events each connection received. */
  connections: WyomingEvent[][];
  close(): Promise<void>;
}

const ANSWERS: Record<string, string> = {
  describe: 'piper-describe.server.bin',
  synthesize: 'piper-synthesize.server.bin',
  'audio-stop': 'faster-whisper-transcribe.server.bin',
};

async function writeInPieces(socket: Socket, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length && !socket.destroyed) {
    const size = 1 + Math.floor(Math.random() * 700);
    socket.write(bytes.subarray(at, at + size));
    at += size;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function startReplay(
  behaviour: 'replay' | 'hang' | 'error' | 'hang-up' = 'replay',
): Promise<ReplayServer> {
  const connections: WyomingEvent[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // the client hung up; nothing to answer
    const decoder = new WyomingDecoder();
    const received: WyomingEvent[] = [];
    connections.push(received);
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        received.push(event);
        const answer = ANSWERS[event.type];
        if (answer === undefined || behaviour === 'hang') continue;
        if (behaviour === 'error') {
          socket.write(
            encodeEvent({ type: 'error', data: { text: 'voice not loaded', code: 'x' } }),
          );
        } else if (behaviour === 'hang-up') {
          socket.end(fixture(answer).subarray(0, 150)); // part of the answer, then gone
        } else {
          void writeInPieces(socket, fixture(answer));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `tcp://127.0.0.1:${port}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const payloadBytes = (events: WyomingEvent[]) =>
  events.reduce((n, e) => n + (e.payload?.length ?? 0), 0);

describe('Wyoming client against a replayed server', () => {
  let server: ReplayServer;
  afterEach(async () => {
    await server?.close();
  });
  const target = () => ({ host: '127.0.0.1', port: server.port });

  it('asks describe and reads the voices of the info answer', async () => {
    server = await startReplay();
    const events = await wyomingExchange(target(), {
      send: [{ type: 'describe' }],
      until: (e) => e.type === 'info',
      timeoutMs: 2000,
    });
    expect(events.map((e) => e.type)).toEqual(['info']);
    expect(voicesOfInfo(events[0]!)).toEqual(['en_US-lessac-medium', 'de_DE-thorsten-medium']);
  });

  it('sends a recorded faster-whisper request and gets its transcript', async () => {
    server = await startReplay();
    const request = decodeAll(fixture('faster-whisper-transcribe.client.bin'));
    const events = await wyomingExchange(target(), {
      send: request,
      until: (e) => e.type === 'transcript',
      timeoutMs: 2000,
    });
    expect(events[events.length - 1]?.data?.text).toBe(' Restart the database.');
    const received = server.connections[0]!;
    expect(received.map((e) => e.type)).toEqual(request.map((e) => e.type));
    expect(received.map((e) => e.data)).toEqual(request.map((e) => e.data));
    expect(payloadBytes(received)).toBe(payloadBytes(request));
  });

  it('reads synthesized audio arriving in pieces until audio-stop', async () => {
    server = await startReplay();
    const events = await wyomingExchange(target(), {
      send: [{ type: 'synthesize', data: { text: 'hi', voice: { name: 'en_US-lessac-medium' } } }],
      until: (e) => e.type === 'audio-stop',
      timeoutMs: 2000,
    });
    expect(events.map((e) => e.type)).toEqual([
      'audio-start',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-stop',
    ]);
    const audio = collectAudio(events);
    expect(audio).toMatchObject({ sampleRate: 22050, channels: 1 });
    expect(audio.samples.length).toBe(3 * 1024 + 500);
  });

  it('gives up after the deadline when the server never answers', async () => {
    server = await startReplay('hang');
    const started = Date.now();
    const failure = wyomingExchange(target(), {
      send: [{ type: 'describe' }],
      until: (e) => e.type === 'info',
      timeoutMs: 300,
    });
    await expect(failure).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("reports the server's error event, a refused connection and a half answer", async () => {
    server = await startReplay('error');
    await expect(
      wyomingExchange(target(), {
        send: [{ type: 'synthesize', data: { text: 'hi' } }],
        until: (e) => e.type === 'audio-stop',
        timeoutMs: 2000,
      }),
    ).rejects.toThrow('the server reported an error: voice not loaded');
    await server.close();

    server = await startReplay('hang-up');
    const halfAnswer = wyomingExchange(target(), {
      send: [{ type: 'synthesize', data: { text: 'hi' } }],
      until: (e) => e.type === 'audio-stop',
      timeoutMs: 2000,
    });
    await expect(halfAnswer).rejects.toMatchObject({ kind: 'closed' });
    await expect(halfAnswer).rejects.toThrow('last event: audio-start');

    const refused = wyomingExchange(
      { host: '127.0.0.1', port: await closedPort() },
      { send: [{ type: 'describe' }], until: () => true, timeoutMs: 2000 },
    );
    await expect(refused).rejects.toBeInstanceOf(WyomingError);
    await expect(refused).rejects.toMatchObject({ kind: 'connect' });
  });
});

describe('the gateway with Piper and faster-whisper over Wyoming', () => {
  let server: ReplayServer;
  let gateway: TestGateway;
  beforeAll(async () => {
    server = await startReplay();
    gateway = await startTestGateway({
      stt: { backend: 'wyoming', url: server.url, timeoutMs: 2000 },
      tts: { backend: 'wyoming', url: server.url, timeoutMs: 2000 },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await server?.close();
  });

  it('speaks through Piper: synthesize with the voice, the chunks as one WAV', async () => {
    server.connections.length = 0;
    const res = await gateway.speech({
      input: 'Restart the database.',
      voice: 'en_US-lessac-medium',
    });
    expect(res.status).toBe(200);
    const wav = parseWav(new Uint8Array(await res.arrayBuffer()));
    expect(wav).toMatchObject({ sampleRate: 22050, channels: 1, frames: 3 * 1024 + 500 });
    const recorded = decodeAll(fixture('piper-synthesize.server.bin'));
    const expected = Buffer.concat(recorded.flatMap((e) => (e.payload ? [e.payload] : [])));
    expect(Buffer.from(wav.data).equals(expected)).toBe(true);
    const synthesize = server.connections.flat().find((e) => e.type === 'synthesize');
    expect(synthesize?.data).toEqual({
      text: 'Restart the database.',
      voice: { name: 'en_US-lessac-medium' },
    });
  });

  it("lists Piper's voices and refuses one it does not have, naming the field", async () => {
    const models = (await (await gateway.get('/v1/models')).json()) as {
      data: { id: string; voices?: string[] }[];
    };
    expect(models.data.find((m) => m.id === 'tts-1')?.voices).toEqual([
      'en_US-lessac-medium',
      'de_DE-thorsten-medium',
    ]);
    const res = await gateway.speech({ input: 'hi', voice: 'alloy' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.issues?.[0]?.path).toBe('voice');
    expect(body.error.message).toContain('en_US-lessac-medium');
  });

  it('transcribes through faster-whisper: 16 kHz mono chunks in, the transcript out', async () => {
    server.connections.length = 0;
    const wav = toneWav({ rate: 44100, channels: 2, seconds: 0.5 });
    const res = await gateway.transcribe(
      { language: 'en', response_format: 'verbose_json' },
      { bytes: wav },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text: string; language: string; duration: number };
    expect(body).toMatchObject({ text: 'Restart the database.', language: 'en', duration: 0.5 });
    const received = server.connections.find((c) => c.some((e) => e.type === 'transcribe'))!;
    expect(received[0]).toEqual({ type: 'transcribe', data: { language: 'en' } });
    expect(received[1]?.data).toMatchObject({ rate: 16000, width: 2, channels: 1 });
    expect(received.filter((e) => e.type === 'audio-chunk')).toHaveLength(8); // 8000 samples
    expect(payloadBytes(received)).toBe(8000 * 2);
    expect(received[received.length - 1]?.type).toBe('audio-stop');
  });
});

describe('the gateway when the Wyoming server fails', () => {
  it('answers 502 naming the backend when nothing listens', async () => {
    const url = `tcp://127.0.0.1:${await closedPort()}`;
    const gateway = await startTestGateway({
      stt: { backend: 'wyoming', url },
      tts: { backend: 'wyoming', url, voices: ['en_US-lessac-medium'] },
    });
    try {
      const speech = await gateway.speech({ input: 'hi' });
      expect(speech.status).toBe(502);
      const body = (await speech.json()) as ErrorBody;
      expect(body.error).toMatchObject({ code: 'UPSTREAM_ERROR', backend: 'wyoming' });
      expect(body.error.message).toContain('ECONNREFUSED');
      const stt = await gateway.transcribe(
        {},
        { bytes: toneWav({ rate: 16000, channels: 1, seconds: 0.1 }) },
      );
      expect(stt.status).toBe(502);
    } finally {
      await gateway.close();
    }
  });

  it('answers 504 within the configured timeout when it never answers', async () => {
    const server = await startReplay('hang');
    const gateway = await startTestGateway({
      stt: { backend: 'wyoming', url: server.url, timeoutMs: 300 },
      tts: { backend: 'wyoming', url: server.url, timeoutMs: 300, voices: ['v'] },
    });
    try {
      const started = Date.now();
      const res = await gateway.transcribe(
        {},
        { bytes: toneWav({ rate: 16000, channels: 1, seconds: 0.1 }) },
      );
      expect(res.status).toBe(504);
      expect(Date.now() - started).toBeLessThan(2000);
      const body = (await res.json()) as ErrorBody;
      expect(body.error).toMatchObject({ code: 'UPSTREAM_TIMEOUT', backend: 'wyoming' });
      expect((await gateway.speech({ input: 'hi' })).status).toBe(504);
    } finally {
      await gateway.close();
      await server.close();
    }
  });
});
