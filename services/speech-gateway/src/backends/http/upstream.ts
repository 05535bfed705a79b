import { backendError, backendTimeout, clientGone } from '../../errors.ts';

/**
 * fetch() to an HTTP upstream with a deadline and the client's abort, mapped to the gateway's
 * errors: unreachable or non-2xx → 502 naming the backend, deadline → 504.
 */

/** The URL as logs and errors may show it: no credentials, no query. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '(invalid url)';
  }
}

/** `base` without its trailing slash, then `path`. */
export const joinUrl = (base: string, path: string) => `${base.replace(/\/+$/, '')}${path}`;

export interface UpstreamCall {
  backend: string;
  url: string;
  init: RequestInit;
  timeoutMs: number;
  signal: AbortSignal;
}

export interface UpstreamResponse {
  response: Response;
  /** Ends the deadline (once the body is read, or handed on as a stream). */
  done(): void;
  /** Reads the whole body within the deadline. */
  bytes(): Promise<Uint8Array>;
}

/** A short, safe excerpt of an upstream's error body (its `error.message` when JSON). */
async function errorDetail(response: Response): Promise<string> {
  const text = (await response.text().catch(() => '')).slice(0, 2000);
  try {
    const body = JSON.parse(text) as {
      error?: { message?: unknown } | string;
      detail?: unknown;
      message?: unknown;
    };
    const message =
      typeof body.error === 'object'
        ? body.error.message
        : (body.error ?? body.detail ?? body.message);
    if (typeof message === 'string') return message.slice(0, 500);
  } catch {
    // not JSON: the text itself
  }
  return text.trim().slice(0, 500);
}

export async function callUpstream(call: UpstreamCall): Promise<UpstreamResponse> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error('deadline')), call.timeoutMs);
  const signal = AbortSignal.any([deadline.signal, call.signal]);
  const where = safeUrl(call.url);
  const mapError = (err: unknown): unknown => {
    if (deadline.signal.aborted) return backendTimeout(call.backend, call.timeoutMs, err);
    if (call.signal.aborted) return clientGone(err);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    return backendError(call.backend, `cannot reach ${where} (${why})`, { cause: err });
  };
  const done = () => clearTimeout(timer);
  let response: Response;
  try {
    response = await fetch(call.url, { ...call.init, signal });
  } catch (err) {
    done();
    throw mapError(err);
  }
  if (!response.ok) {
    const detail = await errorDetail(response).catch(() => '');
    done();
    throw backendError(
      call.backend,
      `${where} answered ${response.status}${detail === '' ? '' : `: ${detail}`}`,
      {
        data: { upstreamStatus: response.status },
      },
    );
  }
  return {
    response,
    done,
    bytes: async () => {
      try {
        return new Uint8Array(await response.arrayBuffer());
      } catch (err) {
        throw mapError(err);
      } finally {
        done();
      }
    },
  };
}
