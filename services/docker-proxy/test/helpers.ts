import { request, type IncomingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@datamancy/core';

/** A logger whose JSON lines the test reads back. */
export function captureLogs(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request with the target sent exactly as given (no URL normalisation by a client
 * library), against a TCP port or a unix socket.
 */
export function rawRequest(
  to: { port: number } | { socketPath: string },
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined && options.chunked !== true) {
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    if (options.chunked === true) headers['transfer-encoding'] = 'chunked';
    const req = request(
      {
        ...('port' in to ? { host: '127.0.0.1', port: to.port } : { socketPath: to.socketPath }),
        method,
        path,
        headers,
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (options.body !== undefined && options.chunked === true) {
      // several chunks, so the proxy sees a body whose length no header announced
      const bytes = Buffer.from(options.body);
      for (let i = 0; i < bytes.length; i += 4096) req.write(bytes.subarray(i, i + 4096));
      req.end();
    } else req.end(options.body);
  });
}

/** The `message` of a JSON error body, as Docker clients print it. */
export function messageOf(answer: RawAnswer): string {
  try {
    return (JSON.parse(answer.body) as { message?: string }).message ?? '';
  } catch {
    return answer.body;
  }
}
