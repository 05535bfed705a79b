import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AppError, type ToolContext } from '@datamancy/plugin-sdk';
import type { BrowserPluginConfig } from './config.ts';

/**
 * The plugin's HTTP talk with the browser service (plain fetch: plugins import only the SDK and
 * libraries) and its proofs directory. The service's failures become tool errors with the same
 * code, their details kept and the error page's screenshot saved as a proof.
 */

type Ctx = ToolContext<BrowserPluginConfig>;

interface ErrorEnvelope {
  error?: { code?: string; message?: string; image?: string; [key: string]: unknown };
}

/** Codes passed through as they are; anything else from the service is an upstream error. */
const PASSED_THROUGH = new Set([
  'URL_REFUSED',
  'UPSTREAM_ERROR',
  'UPSTREAM_TIMEOUT',
  'RATE_LIMITED',
  'UNAVAILABLE',
]);
/** Details of a page failure worth handing to the caller. */
const FAILURE_FIELDS = [
  'ok',
  'failure',
  'status',
  'finalUrl',
  'netError',
  'reason',
  'blockedUrl',
  'title',
];

/** Writes a PNG proof and returns its absolute path. */
export async function saveProof(ctx: Ctx, tool: string, png: Buffer): Promise<string> {
  const now = new Date().toISOString();
  const dir = join(resolve(ctx.config.proofsDir), now.slice(0, 10));
  await mkdir(dir, { recursive: true });
  const time = now.slice(11, 23).replace(/[:.]/g, '');
  const id = ctx.requestId.replace(/[^\w.-]/g, '_').slice(0, 64);
  const path = join(dir, `${time}-${tool}-${id}-${randomBytes(3).toString('hex')}.png`);
  await writeFile(path, png, { flag: 'wx' });
  return path;
}

async function toolError(ctx: Ctx, tool: string, res: Response): Promise<AppError> {
  const text = await res.text();
  let envelope: ErrorEnvelope = {};
  try {
    envelope = JSON.parse(text) as ErrorEnvelope;
  } catch {
    envelope = {}; // not our envelope: described by the status below
  }
  const error = envelope.error ?? {};
  const code = typeof error.code === 'string' ? error.code : `HTTP_${res.status}`;
  const data: Record<string, unknown> = {};
  for (const field of FAILURE_FIELDS) if (field in error) data[field] = error[field];
  if (typeof error.image === 'string' && error.image !== '') {
    data.proofPath = await saveProof(ctx, tool, Buffer.from(error.image, 'base64'));
  }
  const message = typeof error.message === 'string' ? error.message : text.slice(0, 200);
  const retryAfter = Number(res.headers.get('retry-after') ?? 'NaN');
  const retry = Number.isFinite(retryAfter) ? { retryAfterS: retryAfter } : {};
  if (PASSED_THROUGH.has(code)) {
    return new AppError(code as 'UPSTREAM_ERROR', message, { data, ...retry });
  }
  if (code === 'BAD_REQUEST') {
    return new AppError(
      'INVALID_ARGUMENTS',
      `the browser service refused the request: ${message}`,
      {
        data: { issues: error.issues },
      },
    );
  }
  return new AppError(
    'UPSTREAM_ERROR',
    `browser service answered ${res.status} ${code}: ${message}`,
    {
      data: { upstreamStatus: res.status, upstreamCode: code },
    },
  );
}

/** POSTs to the browser service and returns its JSON; throws the tool error of a failure. */
export async function callBrowser<T>(
  ctx: Ctx,
  tool: string,
  path: string,
  body: unknown,
): Promise<T> {
  const { url, token, timeoutMs } = ctx.config;
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token ?? ''}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
    });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    const timedOut = (err as Error).name === 'TimeoutError';
    throw new AppError(
      timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR',
      timedOut
        ? `the browser service did not answer within ${timeoutMs} ms`
        : `cannot reach the browser service at ${url}: ${cause}`,
    );
  }
  if (!res.ok) throw await toolError(ctx, tool, res);
  return (await res.json()) as T;
}
