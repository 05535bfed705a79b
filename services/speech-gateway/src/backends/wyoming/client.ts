import { connect, type Socket } from 'node:net';
import { encodeEvent, WyomingDecoder, type DecoderLimits, type WyomingEvent } from './framing.ts';

/**
 * One Wyoming exchange over TCP: connect, send events, read events until the one that ends the
 * exchange (`transcript`, `audio-stop`, `info`), then close. A deadline covers the whole
 * exchange; an `error` event from the peer, a dropped connection or a protocol error fail it.
 */

export type WyomingFailure =
  'connect' | 'timeout' | 'closed' | 'protocol' | 'peer-error' | 'aborted' | 'too-large';

export class WyomingError extends Error {
  readonly kind: WyomingFailure;
  constructor(kind: WyomingFailure, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WyomingError';
    this.kind = kind;
  }
}

export interface WyomingTarget {
  host: string;
  port: number;
}

/** `tcp://host:port` → host and port. */
export function parseWyomingUrl(url: string): WyomingTarget {
  const parsed = new URL(url);
  if (parsed.protocol !== 'tcp:' || parsed.port === '') {
    throw new Error(`expected tcp://host:port, got ${url}`);
  }
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port) };
}

export interface ExchangeOptions {
  /** Events to send, in order. */
  send: Iterable<WyomingEvent>;
  /** True for the event that completes the exchange (it is included in the result). */
  until: (event: WyomingEvent) => boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Total payload bytes accepted from the peer. */
  maxPayloadBytes?: number;
  limits?: Partial<DecoderLimits>;
}

/** Writes with backpressure: waits for 'drain' when the socket's buffer is full. */
async function writeAll(socket: Socket, events: Iterable<WyomingEvent>): Promise<void> {
  for (const event of events) {
    if (socket.destroyed) return;
    if (!socket.write(encodeEvent(event))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
}

export function wyomingExchange(
  target: WyomingTarget,
  options: ExchangeOptions,
): Promise<WyomingEvent[]> {
  const maxPayload = options.maxPayloadBytes ?? 64 * 1024 * 1024;
  return new Promise<WyomingEvent[]>((resolve, reject) => {
    const received: WyomingEvent[] = [];
    const decoder = new WyomingDecoder(options.limits);
    let payloadBytes = 0;
    let connected = false;
    let settled = false;
    const socket = connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);

    const finish = (err?: WyomingError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err === undefined) resolve(received);
      else reject(err);
    };
    const timer = setTimeout(() => {
      finish(
        new WyomingError(
          'timeout',
          connected
            ? `no complete answer within ${options.timeoutMs} ms`
            : `could not connect within ${options.timeoutMs} ms`,
        ),
      );
    }, options.timeoutMs);
    const onAbort = () => finish(new WyomingError('aborted', 'request aborted'));
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });

    socket.once('connect', () => {
      connected = true;
      writeAll(socket, options.send).catch((err: unknown) => {
        finish(new WyomingError('closed', `sending failed: ${(err as Error).message}`, err));
      });
    });
    socket.on('data', (chunk: Buffer) => {
      let events: WyomingEvent[];
      try {
        events = decoder.push(chunk);
      } catch (err) {
        finish(new WyomingError('protocol', (err as Error).message, err));
        return;
      }
      for (const event of events) {
        if (event.type === 'error') {
          const text = typeof event.data?.text === 'string' ? event.data.text : 'no detail';
          finish(new WyomingError('peer-error', `the server reported an error: ${text}`));
          return;
        }
        payloadBytes += event.payload?.length ?? 0;
        if (payloadBytes > maxPayload) {
          finish(new WyomingError('too-large', `the answer exceeds ${maxPayload} bytes of audio`));
          return;
        }
        received.push(event);
        if (options.until(event)) {
          finish();
          return;
        }
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(
        new WyomingError(
          connected ? 'closed' : 'connect',
          connected
            ? `connection failed: ${err.code ?? err.message}`
            : `cannot connect to ${target.host}:${target.port} (${err.code ?? err.message})`,
          err,
        ),
      );
    });
    socket.on('close', () => {
      const last = received[received.length - 1]?.type;
      finish(
        new WyomingError(
          'closed',
          `the server closed the connection before the answer was complete (last event: ${last ?? 'none'})`,
        ),
      );
    });
  });
}
