import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A scripted OpenAI-compatible server for tests: it speaks the real wire protocol over HTTP
 * (JSON and SSE) and answers each chat request with the next step of its script.
 */

export type ScriptStep =
  | { toolCalls: { name: string; arguments: unknown }[]; content?: string }
  | { content: string }
  | { status: number; error: string }
  /** Streams `content` then fails mid-stream with an error event. */
  | { content: string; failMidStream: true };

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface ScriptedOpenAi {
  url: string;
  /** Base URL with `/v1`, as LLM_BASE_URL takes it. */
  baseUrl: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Deterministic pseudo-embedding of a text, 8 dimensions. */
export function fakeEmbedding(text: string): number[] {
  const out = new Array<number>(8).fill(0);
  for (let i = 0; i < text.length; i++) out[i % 8] = (out[i % 8] ?? 0) + text.charCodeAt(i) / 1000;
  return out.map((v) => Math.round(v * 1000) / 1000);
}

export async function startScriptedOpenAi(
  script: ScriptStep[],
  options: { apiKey?: string } = {},
): Promise<ScriptedOpenAi> {
  const requests: RecordedRequest[] = [];
  let step = 0;
  let created = 1_700_000_000;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const body = (raw === '' ? {} : JSON.parse(raw)) as Record<string, unknown>;
      const path = (req.url ?? '').replace(/\?.*$/, '');
      requests.push({ path, headers: req.headers, body });
      if (
        options.apiKey !== undefined &&
        req.headers.authorization !== `Bearer ${options.apiKey}`
      ) {
        json(res, 401, { error: { message: 'bad api key', type: 'invalid_request_error' } });
        return;
      }
      if (path === '/v1/models') {
        json(res, 200, {
          object: 'list',
          data: [{ id: 'scripted', object: 'model', owned_by: 'test' }],
        });
        return;
      }
      if (path === '/v1/embeddings') {
        const input = body.input;
        const texts = Array.isArray(input) ? (input as string[]) : [String(input)];
        json(res, 200, {
          object: 'list',
          model: String(body.model),
          data: texts.map((t, index) => ({
            object: 'embedding',
            index,
            embedding: fakeEmbedding(t),
          })),
          usage: { prompt_tokens: texts.length, total_tokens: texts.length },
        });
        return;
      }
      if (path !== '/v1/chat/completions') {
        json(res, 404, { error: { message: `no route ${path}` } });
        return;
      }
      const current = script[Math.min(step, script.length - 1)];
      step++;
      if (current === undefined) {
        json(res, 500, { error: { message: 'empty script' } });
        return;
      }
      if ('status' in current) {
        json(res, current.status, { error: { message: current.error, type: 'server_error' } });
        return;
      }
      const id = `chatcmpl-${step}`;
      const model = typeof body.model === 'string' ? body.model : 'scripted';
      created++;
      const toolCalls =
        'toolCalls' in current
          ? current.toolCalls.map((c, i) => ({
              id: `call_${step}_${i}`,
              type: 'function' as const,
              function: {
                name: c.name,
                arguments:
                  typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
              },
            }))
          : [];
      const content = current.content ?? null;
      if (body.stream !== true) {
        json(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content,
                ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
              },
              finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
            },
          ],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = (delta: Record<string, unknown>, finish: string | null): void => {
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
        );
      };
      send({ role: 'assistant', content: '' }, null);
      if (content !== null) {
        // word by word, as a model would
        for (const piece of content.match(/\S+\s*/g) ?? []) send({ content: piece }, null);
      }
      if ('failMidStream' in current) {
        res.write(
          `data: ${JSON.stringify({ error: { message: 'backend crashed', type: 'server_error' } })}\n\n`,
        );
        res.end();
        return;
      }
      toolCalls.forEach((call, index) => {
        send(
          {
            tool_calls: [
              {
                index,
                id: call.id,
                type: 'function',
                function: { name: call.function.name, arguments: '' },
              },
            ],
          },
          null,
        );
        const args = call.function.arguments;
        const half = Math.ceil(args.length / 2);
        send({ tool_calls: [{ index, function: { arguments: args.slice(0, half) } }] }, null);
        send({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }, null);
      });
      send({}, toolCalls.length > 0 ? 'tool_calls' : 'stop');
      res.write('data: [DONE]\n\n');
      res.end();
    })().catch((err: unknown) => {
      json(res, 500, { error: { message: String(err) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
