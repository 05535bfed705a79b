import { describe, expect, it } from 'vitest';
import {
  decodeAll,
  encodeEvent,
  encodeEvents,
  WyomingDecoder,
  WyomingProtocolError,
  type WyomingEvent,
} from '../src/backends/wyoming/framing.ts';
import { fixture } from './helpers.ts';

const EXCHANGES = [
  'piper-describe.client.bin',
  'piper-describe.server.bin',
  'piper-synthesize.client.bin',
  'piper-synthesize.server.bin',
  'faster-whisper-transcribe.client.bin',
  'faster-whisper-transcribe.server.bin',
];

/** Feeds `bytes` to a fresh decoder in pieces cut at `cuts`, returning every event. */
function decodeInPieces(bytes: Uint8Array, cuts: number[]): WyomingEvent[] {
  const decoder = new WyomingDecoder();
  const events: WyomingEvent[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...decoder.push(bytes.subarray(from, cut)));
    from = cut;
  }
  decoder.end();
  return events;
}

/** Events with payloads as base64, for quick deep comparison. */
const summary = (events: WyomingEvent[]) =>
  events.map((e) => ({
    ...e,
    payload: e.payload === undefined ? undefined : Buffer.from(e.payload).toString('base64'),
  }));

/** A seeded generator, so a failure names cuts that can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('Wyoming framing against recorded exchanges', () => {
  it('decodes what wyoming-piper sends for synthesize: audio-start, four chunks, audio-stop', () => {
    const events = decodeAll(fixture('piper-synthesize.server.bin'));
    expect(events.map((e) => e.type)).toEqual([
      'audio-start',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-stop',
    ]);
    expect(events[0]?.data).toEqual({ rate: 22050, width: 2, channels: 1 });
    expect(events.slice(1, 5).map((e) => e.payload?.length)).toEqual([2048, 2048, 2048, 1000]);
    expect(events[5]?.data).toBeUndefined();
  });

  it('decodes a faster-whisper exchange: transcribe, audio, and the transcript', () => {
    const client = decodeAll(fixture('faster-whisper-transcribe.client.bin'));
    expect(client.map((e) => e.type)).toEqual([
      'transcribe',
      'audio-start',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-stop',
    ]);
    expect(client[0]?.data).toEqual({ language: 'en' });
    expect(client[2]?.data).toEqual({ rate: 16000, width: 2, channels: 1, timestamp: 0 });
    const [transcript] = decodeAll(fixture('faster-whisper-transcribe.server.bin'));
    expect(transcript).toEqual({
      type: 'transcript',
      data: { text: ' Restart the database.', language: 'en' },
    });
  });

  it.each(EXCHANGES)('decodes %s the same when split at every offset', (name) => {
    const bytes = fixture(name);
    const whole = summary(decodeAll(bytes));
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(summary(decodeInPieces(bytes, [cut])), `split at ${cut}`).toEqual(whole);
    }
  });

  it.each(EXCHANGES)('decodes %s the same in random pieces, down to single bytes', (name) => {
    const bytes = fixture(name);
    const whole = summary(decodeAll(bytes));
    const next = random(bytes.length);
    for (let round = 0; round < 50; round++) {
      const cuts: number[] = [];
      for (let at = 0; at < bytes.length; at += 1 + Math.floor(next() * (round < 5 ? 2 : 300))) {
        cuts.push(at);
      }
      expect(summary(decodeInPieces(bytes, cuts)), `round ${round}`).toEqual(whole);
    }
  });

  it.each(EXCHANGES)('encodes the events of %s back into events that decode equal', (name) => {
    const events = decodeAll(fixture(name));
    expect(decodeAll(encodeEvents(events))).toEqual(events);
  });

  it('writes data in its own section and leaves empty data and payload out', () => {
    const bytes = encodeEvent({ type: 'audio-stop', data: {} });
    expect(new TextDecoder().decode(bytes)).toBe('{"type":"audio-stop","version":"1.5.2"}\n');
    const chunk = encodeEvent({
      type: 'audio-chunk',
      data: { rate: 16000 },
      payload: new Uint8Array([1, 2]),
    });
    const text = new TextDecoder().decode(chunk.subarray(0, chunk.length - 2));
    expect(text).toBe(
      '{"type":"audio-chunk","version":"1.5.2","data_length":14,"payload_length":2}\n{"rate":16000}',
    );
  });

  it('reads data given inline in the header (older peers), merged with a data section', () => {
    const line =
      '{"type": "transcript", "data": {"text": "hi", "language": "de"}, "data_length": 17}\n';
    const [event] = decodeAll(new TextEncoder().encode(`${line}{"language":"en"}`));
    expect(event).toEqual({ type: 'transcript', data: { text: 'hi', language: 'en' } });
  });

  it('holds a partial event and says so at the end of the stream', () => {
    const bytes = fixture('piper-synthesize.server.bin');
    const decoder = new WyomingDecoder();
    const events = decoder.push(bytes.subarray(0, 200));
    expect(events.map((e) => e.type)).toEqual(['audio-start']);
    expect(decoder.buffered).toBeGreaterThan(0);
    expect(() => decoder.end()).toThrow(/inside event "audio-chunk"/);
  });

  it.each([
    ['a header that is not JSON', 'hello\n', 'not valid UTF-8 JSON'],
    ['a header without a type', '{"data_length": 0}\n', 'no "type"'],
    ['a negative length', '{"type": "x", "payload_length": -1}\n', 'non-negative integer'],
    ['data that is not an object', '{"type": "x", "data_length": 2}\n[]', 'not an object'],
    [
      'a payload beyond the limit',
      '{"type": "x", "payload_length": 99999999999}\n',
      'exceeds the limit',
    ],
  ])('rejects %s', (_, text, message) => {
    const decoder = new WyomingDecoder();
    expect(() => decoder.push(new TextEncoder().encode(text))).toThrow(WyomingProtocolError);
    expect(() => new WyomingDecoder().push(new TextEncoder().encode(text))).toThrow(message);
  });

  it('rejects a header line that never ends instead of buffering without bound', () => {
    const decoder = new WyomingDecoder({ maxHeaderBytes: 1024 });
    expect(() => decoder.push(new Uint8Array(1025).fill(0x41))).toThrow(
      'header line longer than 1024',
    );
  });
});
