/** Shared plumbing of the typed service clients: bearer auth, JSON, the error envelope. */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: unknown;
  constructor(status: number, code: string, message: string, body: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:8081` */
  baseUrl: string;
  token?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class HttpClient {
  readonly baseUrl: string;
  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.#send(method, path, 'application/json', body, signal);
    const parsed = parseBody(await res.text());
    if (!res.ok) throw errorOf(method, path, res.status, parsed);
    return parsed as T;
  }

  /** Like `request`, for binary answers (e.g. `image/png`); errors are still JSON envelopes. */
  async requestBytes(
    method: string,
    path: string,
    accept: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ bytes: Uint8Array; headers: Headers }> {
    const res = await this.#send(method, path, accept, body, signal);
    if (!res.ok) throw errorOf(method, path, res.status, parseBody(await res.text()));
    return { bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
  }

  async #send(
    method: string,
    path: string,
    accept: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 60_000);
    try {
      return await (this.options.fetch ?? fetch)(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new ApiError(
        0,
        'UNREACHABLE',
        `cannot reach ${this.baseUrl}: ${cause?.code ?? (err as Error).message}`,
        null,
      );
    }
  }
}

function parseBody(text: string): unknown {
  try {
    return text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    return text; // not JSON: the raw text is what the caller gets (or the error carries)
  }
}

function errorOf(method: string, path: string, status: number, parsed: unknown): ApiError {
  const envelope = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
  return new ApiError(
    status,
    envelope?.code ?? `HTTP_${status}`,
    envelope?.message ?? `${method} ${path} answered ${status}`,
    parsed,
  );
}
