import { AppError } from './errors.ts';

/** The slice of OpenAI's chat/embeddings wire format the control plane speaks. */

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | 'developer';
  content: string | null | unknown[];
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export interface FunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  tools?: FunctionTool[];
  tool_choice?: unknown;
  stream?: boolean;
  max_tokens?: number;
  temperature?: number;
  [key: string]: unknown;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatMessage;
  finish_reason: string | null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: string;
      content?: string | null;
      tool_calls?: {
        index: number;
        id?: string;
        type?: 'function';
        function?: { name?: string; arguments?: string };
      }[];
    };
    finish_reason: string | null;
  }[];
}

export interface EmbeddingResponse {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] }[];
  model: string;
  usage?: { prompt_tokens: number; total_tokens: number };
}

export interface OpenAiUpstreamOptions {
  /** Base URL including `/v1`. */
  baseUrl: string;
  apiKey?: string | undefined;
  timeoutMs: number;
}

/** Reads an SSE body and yields each event's `data` field. */
export async function* readSseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      }
    }
  }
  if (data.length > 0) yield data.join('\n');
}

/** A client of an OpenAI-compatible server (LiteLLM, vLLM, the model router). */
export class OpenAiUpstream {
  readonly baseUrl: string;
  constructor(private readonly options: OpenAiUpstreamOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async #post(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    return this.#send('POST', path, body, signal);
  }

  /** `GET /models`, passed through. */
  async models(signal?: AbortSignal): Promise<unknown> {
    const res = await this.#send('GET', '/models', undefined, signal);
    return res.json();
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey !== undefined && this.options.apiKey !== '') {
      headers.authorization = `Bearer ${this.options.apiKey}`;
    }
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: combined,
      });
    } catch (err) {
      if (timeout.aborted) {
        throw new AppError(
          'UPSTREAM_TIMEOUT',
          `the LLM upstream did not answer within ${this.options.timeoutMs} ms`,
        );
      }
      if (signal?.aborted === true) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new AppError(
        'UPSTREAM_ERROR',
        `cannot reach the LLM upstream: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        {
          data: { upstream: true },
        },
      );
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let detail = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { message?: string } };
        if (parsed.error?.message !== undefined) detail = parsed.error.message;
      } catch {
        // not JSON: keep the raw excerpt
      }
      throw new AppError('UPSTREAM_ERROR', `the LLM upstream answered ${res.status}: ${detail}`, {
        data: { upstream: true, upstreamStatus: res.status },
      });
    }
    return res;
  }

  async chat(request: ChatCompletionRequest, signal?: AbortSignal): Promise<ChatCompletion> {
    const res = await this.#post('/chat/completions', { ...request, stream: false }, signal);
    const body = (await res.json()) as ChatCompletion;
    if (!Array.isArray(body.choices) || body.choices.length === 0) {
      throw new AppError('UPSTREAM_ERROR', 'the LLM upstream answered without choices', {
        data: { upstream: true },
      });
    }
    return body;
  }

  /** Starts a streamed completion and yields parsed chunks until `[DONE]`. */
  async *chatStream(
    request: ChatCompletionRequest,
    signal?: AbortSignal,
  ): AsyncGenerator<ChatCompletionChunk> {
    const res = await this.#post('/chat/completions', { ...request, stream: true }, signal);
    if (res.body === null) throw new AppError('UPSTREAM_ERROR', 'the LLM upstream sent no body');
    for await (const data of readSseData(res.body)) {
      if (data === '[DONE]') return;
      let chunk: ChatCompletionChunk & { error?: { message?: string } };
      try {
        chunk = JSON.parse(data) as typeof chunk;
      } catch {
        throw new AppError('UPSTREAM_ERROR', 'the LLM upstream sent a malformed stream event', {
          data: { upstream: true },
        });
      }
      if (chunk.error !== undefined) {
        throw new AppError(
          'UPSTREAM_ERROR',
          `the LLM upstream failed mid-stream: ${chunk.error.message ?? 'unknown'}`,
          {
            data: { upstream: true },
          },
        );
      }
      yield chunk;
    }
  }

  async embeddings(
    input: string | string[],
    model: string,
    signal?: AbortSignal,
  ): Promise<EmbeddingResponse> {
    const res = await this.#post('/embeddings', { input, model }, signal);
    return (await res.json()) as EmbeddingResponse;
  }
}
