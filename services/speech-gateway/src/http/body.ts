import type { IncomingMessage } from 'node:http';
import { AppError, readIncomingBytes, type ServiceContext } from '@datamancy/core';
import { fieldError } from '../errors.ts';

/**
 * Multipart uploads with a size limit enforced while reading: the declared length is checked
 * first, then the bytes as they arrive; either way beyond the limit is 413, and the rest of an
 * oversize body is drained so the client reads the answer instead of a reset.
 */

/** Room for the form's other fields and the multipart framing, on top of the file limit. */
export const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

export function uploadTooLarge(limit: number): AppError {
  return new AppError(
    'PAYLOAD_TOO_LARGE',
    `upload over ${limit} bytes (speechGateway.maxUploadBytes)`,
    { data: { limit } },
  );
}

async function readStream(
  body: ReadableStream<Uint8Array>,
  limit: number,
  fileLimit: number,
): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw uploadTooLarge(fileLimit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function incomingOf(c: ServiceContext): IncomingMessage | undefined {
  const env = c.env as { incoming?: IncomingMessage } | undefined;
  return typeof env === 'object' && env !== null ? env.incoming : undefined;
}

/** The raw body, at most `limit` bytes (413 naming `fileLimit` beyond). */
export async function readBody(
  c: ServiceContext,
  limit: number,
  fileLimit: number,
): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? 'NaN');
  if (declared > limit) throw uploadTooLarge(fileLimit);
  const incoming = incomingOf(c);
  // Read the socket only when nothing else (a web Request built earlier) is reading it.
  if (incoming !== undefined && !incoming.readableEnded && incoming.listenerCount('data') === 0) {
    return readIncomingBytes(incoming, limit, () => uploadTooLarge(fileLimit));
  }
  const body = c.req.raw.body;
  return body === null ? new Uint8Array(0) : readStream(body, limit, fileLimit);
}

/** A `multipart/form-data` body, parsed; 400 naming `file` when it is not one. */
export async function readMultipart(c: ServiceContext, maxFileBytes: number): Promise<FormData> {
  const type = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data\s*;.*boundary=/i.test(type)) {
    throw fieldError(
      'file',
      'send the audio as multipart/form-data with the audio in the "file" field',
    );
  }
  const body = await readBody(c, maxFileBytes + MULTIPART_OVERHEAD_BYTES, maxFileBytes);
  try {
    return await new Response(body, { headers: { 'content-type': type } }).formData();
  } catch {
    throw fieldError('file', 'the body is not valid multipart/form-data');
  }
}
