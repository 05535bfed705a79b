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
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 60_000);
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(`${this.baseUrl}${path}`, {
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
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // leave the raw text: the error below carries it
    }
    if (!res.ok) {
      const envelope = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiError(
        res.status,
        envelope?.code ?? `HTTP_${res.status}`,
        envelope?.message ?? `${method} ${path} answered ${res.status}`,
        parsed,
      );
    }
    return parsed as T;
  }
}
