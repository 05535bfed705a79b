import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { readIncomingBytes } from '@datamancy/core';
import type { Duplex } from 'node:stream';
import type { BodyFacts } from './bodies.ts';
import type { PolicyRequest } from './policy.ts';

/** The HTTP plumbing of the proxy: headers, inspected bodies, answers of its own. */

export function policyRequest(req: IncomingMessage, upgrade: boolean): PolicyRequest {
  const length = req.headers['content-length'];
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    upgrade,
    contentLength: length === undefined ? undefined : Number(length),
    chunked: req.headers['transfer-encoding'] !== undefined,
  };
}

export type BodyRead = BodyFacts | 'too-large';

class BodyTooLarge extends Error {}

/** Reads a body to inspect, up to `limit` bytes (chunked or not: Node has decoded it). */
export async function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  let bytes: Buffer;
  try {
    bytes = await readIncomingBytes(req, limit, () => new BodyTooLarge());
  } catch (err) {
    if (err instanceof BodyTooLarge) return 'too-large';
    throw err;
  }
  if (bytes.length === 0) return { kind: 'empty' };
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return {
      kind: 'invalid',
      reason: `content type "${type.slice(0, 60)}" is not application/json`,
    };
  }
  try {
    return { kind: 'json', value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return { kind: 'invalid', reason: 'the body is not JSON' };
  }
}

export function jsonAnswer(
  status: number,
  message: string,
): { head: OutgoingHttpHeaders; body: string } {
  const body = `${JSON.stringify({ message })}\n`;
  return {
    head: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    body,
  };
}

const STATUS_TEXT: Record<number, string> = {
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};

/** An answer written straight to a socket (an upgrade request is no longer an HTTP response). */
export function rawAnswer(socket: Duplex, status: number, message: string): void {
  const { head, body } = jsonAnswer(status, message);
  const lines = Object.entries(head).map(([k, v]) => `${k}: ${String(v)}`);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\nconnection: close\r\n\r\n${body}`,
  );
}
