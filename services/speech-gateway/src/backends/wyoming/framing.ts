/**
 * Wyoming protocol framing (rhasspy/wyoming), pure: no sockets here.
 *
 * An event is a JSON header line, then optionally `data_length` bytes of JSON data, then
 * optionally `payload_length` bytes of payload:
 *
 *     {"type": "audio-chunk", "version": "1.5.2", "data_length": 41, "payload_length": 2048}\n
 *     {"rate": 16000, "width": 2, "channels": 1}<2048 bytes of PCM>
 *
 * Older peers put `data` inside the header line; both forms are read (and merged, as the
 * Python library does). The decoder takes bytes in whatever pieces the socket delivers.
 */

export interface WyomingEvent {
  type: string;
  data?: Record<string, unknown>;
  payload?: Uint8Array;
}

/** The protocol version we announce, as the Python library does in every header. */
export const WYOMING_VERSION = '1.5.2';

export class WyomingProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WyomingProtocolError';
  }
}

export interface DecoderLimits {
  /** Longest header line (bytes, newline excluded). */
  maxHeaderBytes: number;
  maxDataBytes: number;
  maxPayloadBytes: number;
}

export const DEFAULT_LIMITS: DecoderLimits = {
  maxHeaderBytes: 64 * 1024,
  maxDataBytes: 1024 * 1024,
  maxPayloadBytes: 16 * 1024 * 1024,
};

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes of one event. Data goes in its own section, as current Wyoming peers write it. */
export function encodeEvent(event: WyomingEvent): Uint8Array {
  const header: Record<string, unknown> = { type: event.type, version: WYOMING_VERSION };
  const data =
    event.data !== undefined && Object.keys(event.data).length > 0
      ? encoder.encode(JSON.stringify(event.data))
      : undefined;
  if (data !== undefined) header.data_length = data.length;
  const payload =
    event.payload !== undefined && event.payload.length > 0 ? event.payload : undefined;
  if (payload !== undefined) header.payload_length = payload.length;
  const line = encoder.encode(`${JSON.stringify(header)}\n`);
  const out = new Uint8Array(line.length + (data?.length ?? 0) + (payload?.length ?? 0));
  out.set(line, 0);
  if (data !== undefined) out.set(data, line.length);
  if (payload !== undefined) out.set(payload, line.length + (data?.length ?? 0));
  return out;
}

export function encodeEvents(events: readonly WyomingEvent[]): Uint8Array {
  const parts = events.map(encodeEvent);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Bytes received and not yet consumed, kept as the pieces they arrived in. */
class ByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    // a plain view (not a Buffer), so payloads are the same type however the bytes arrived
    this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#length += chunk.length;
  }

  /** Index of the first `byte`, searching at most `limit` bytes; -1 when absent. */
  indexOf(byte: number, limit: number): number {
    let offset = 0;
    for (const chunk of this.#chunks) {
      const end = Math.min(chunk.length, limit - offset);
      const found = chunk.subarray(0, Math.max(0, end)).indexOf(byte);
      if (found >= 0) return offset + found;
      offset += chunk.length;
      if (offset >= limit) break;
    }
    return -1;
  }

  /** Removes and returns the first `n` bytes (n ≤ length). */
  take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) {
      // the common case: no copy
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#length -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Uint8Array;
      const part = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    this.#length -= n;
    return out;
  }
}

interface PendingHeader {
  type: string;
  inlineData: Record<string, unknown> | undefined;
  dataLength: number;
  payloadLength: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lengthField(header: Record<string, unknown>, key: string, max: number): number {
  const value = header[key];
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new WyomingProtocolError(`${key} must be a non-negative integer`);
  }
  if (value > max) throw new WyomingProtocolError(`${key} ${value} exceeds the limit of ${max}`);
  return value;
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch (err) {
    throw new WyomingProtocolError(`${what} is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
}

/**
 * Incremental decoder: `push` the bytes as they come, get back every event they complete.
 * After a WyomingProtocolError the stream is out of step; drop the connection.
 */
export class WyomingDecoder {
  readonly #limits: DecoderLimits;
  readonly #queue = new ByteQueue();
  #header: PendingHeader | undefined;

  constructor(limits: Partial<DecoderLimits> = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes held that do not yet make a whole event. */
  get buffered(): number {
    return this.#queue.length;
  }

  /** True between events (nothing partial held). */
  get idle(): boolean {
    return this.#header === undefined && this.#queue.length === 0;
  }

  push(chunk: Uint8Array): WyomingEvent[] {
    this.#queue.push(chunk);
    const events: WyomingEvent[] = [];
    for (;;) {
      const event = this.#next();
      if (event === undefined) return events;
      events.push(event);
    }
  }

  /** Call at end of stream: throws when it ended inside an event. */
  end(): void {
    if (!this.idle) {
      const where = this.#header === undefined ? 'a header line' : `event "${this.#header.type}"`;
      throw new WyomingProtocolError(`stream ended inside ${where} (${this.buffered} bytes held)`);
    }
  }

  #next(): WyomingEvent | undefined {
    if (this.#header === undefined) {
      const newline = this.#queue.indexOf(NEWLINE, this.#limits.maxHeaderBytes + 1);
      if (newline < 0) {
        if (this.#queue.length > this.#limits.maxHeaderBytes) {
          throw new WyomingProtocolError(
            `header line longer than ${this.#limits.maxHeaderBytes} bytes`,
          );
        }
        return undefined;
      }
      const line = this.#queue.take(newline + 1).subarray(0, newline);
      this.#header = this.#parseHeader(line);
    }
    const header = this.#header;
    if (this.#queue.length < header.dataLength + header.payloadLength) return undefined;
    this.#header = undefined;
    let data = header.inlineData;
    if (header.dataLength > 0) {
      const parsed = parseJson(this.#queue.take(header.dataLength), `data of "${header.type}"`);
      if (!isObject(parsed))
        throw new WyomingProtocolError(`data of "${header.type}" is not an object`);
      data = { ...data, ...parsed };
    }
    const event: WyomingEvent = { type: header.type };
    if (data !== undefined) event.data = data;
    if (header.payloadLength > 0) event.payload = this.#queue.take(header.payloadLength);
    return event;
  }

  #parseHeader(line: Uint8Array): PendingHeader {
    const header = parseJson(line, 'header line');
    if (!isObject(header)) throw new WyomingProtocolError('header line is not a JSON object');
    const type = header.type;
    if (typeof type !== 'string' || type === '') {
      throw new WyomingProtocolError('header line has no "type"');
    }
    const inline = header.data;
    if (inline !== undefined && inline !== null && !isObject(inline)) {
      throw new WyomingProtocolError(`inline data of "${type}" is not an object`);
    }
    return {
      type,
      inlineData: isObject(inline) ? inline : undefined,
      dataLength: lengthField(header, 'data_length', this.#limits.maxDataBytes),
      payloadLength: lengthField(header, 'payload_length', this.#limits.maxPayloadBytes),
    };
  }
}

/** Decodes a complete byte stream (tests, fixtures). */
export function decodeAll(bytes: Uint8Array, limits?: Partial<DecoderLimits>): WyomingEvent[] {
  const decoder = new WyomingDecoder(limits);
  const events = decoder.push(bytes);
  decoder.end();
  return events;
}
