import { z } from 'zod';
import {
  AppError,
  readJson,
  toValidationIssues,
  validationError,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatMessage,
  type FunctionTool,
  type Identity,
  type OpenAiUpstream,
  type ServiceApp,
  type ToolCall,
} from '@datamancy/core';
import type { ToolDispatcher } from '../runtime/dispatcher.ts';
import type { createToolListing } from './tool-routes.ts';

/**
 * `POST /v1/chat/completions`: an OpenAI-compatible proxy to the stack LLM that offers the
 * caller's tools, runs the model's tool calls through the dispatcher (same checks, same audit),
 * and loops until the model answers or `maxSteps` rounds pass; then it asks for an answer
 * without tools. With `stream: true` each round is streamed from the upstream and the answer's
 * chunks are passed on as they arrive.
 */

const ChatBodySchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(z.object({ role: z.string().min(1) }).loose()).min(1),
    stream: z.boolean().optional(),
    tools: z.array(z.unknown()).optional(),
  })
  .loose();

export interface ChatProxyDeps {
  dispatcher: ToolDispatcher;
  listTools: ReturnType<typeof createToolListing>;
  upstream: OpenAiUpstream | undefined;
  maxSteps: number;
  bodyLimitBytes: number;
}

async function runToolCall(
  deps: ChatProxyDeps,
  call: ToolCall,
  identity: Identity,
  requestId: string,
  signal: AbortSignal,
): Promise<ChatMessage> {
  const reply = (content: unknown): ChatMessage => ({
    role: 'tool',
    tool_call_id: call.id,
    content: JSON.stringify(content),
  });
  let args: unknown;
  try {
    args = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch {
    return reply({
      error: { code: 'INVALID_ARGUMENTS', message: 'the arguments are not valid JSON' },
    });
  }
  try {
    const { result } = await deps.dispatcher.call({
      name: call.function.name,
      args,
      identity,
      requestId,
      channel: 'chat',
      signal,
    });
    return reply(result);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return reply({ error: { ...err.data, code: err.code, message: err.message } });
  }
}

interface Accumulated {
  id: string;
  name: string;
  arguments: string;
}

function accumulate(into: Accumulated[], chunk: ChatCompletionChunk): void {
  for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
    const slot = (into[delta.index] ??= { id: '', name: '', arguments: '' });
    if (delta.id !== undefined) slot.id = delta.id;
    if (delta.function?.name !== undefined) slot.name += delta.function.name;
    if (delta.function?.arguments !== undefined) slot.arguments += delta.function.arguments;
  }
}

const encoder = new TextEncoder();
const sse = (data: unknown): Uint8Array =>
  encoder.encode(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);

export function registerChatProxy(app: ServiceApp, deps: ChatProxyDeps): void {
  const requireUpstream = (): OpenAiUpstream => {
    if (deps.upstream === undefined) {
      throw new AppError('UNAVAILABLE', 'no LLM upstream is configured (set LLM_BASE_URL)', {
        data: { type: 'server_error', source: 'proxy' },
        retryAfterS: 60,
      });
    }
    return deps.upstream;
  };

  app.get('/v1/models', async (c) => c.json(await requireUpstream().models(c.req.raw.signal)));

  app.post('/v1/chat/completions', async (c) => {
    const upstream = requireUpstream();
    const parsed = ChatBodySchema.safeParse(await readJson(c, deps.bodyLimitBytes));
    if (!parsed.success)
      throw validationError('BAD_REQUEST', toValidationIssues(parsed.error.issues));
    const body = parsed.data as unknown as ChatCompletionRequest;
    const identity = c.get('identity');
    const requestId = c.get('requestId');
    const signal = c.req.raw.signal;

    // The caller brought its own tools: a plain proxy, the caller runs them.
    const ownTools = Array.isArray(body.tools) && body.tools.length > 0;
    const offered: FunctionTool[] = ownTools ? [] : deps.listTools(identity);
    const roundRequest = (messages: ChatMessage[], last: boolean): ChatCompletionRequest => {
      if (ownTools || offered.length === 0) return { ...body, messages };
      return { ...body, messages, tools: offered, ...(last ? { tool_choice: 'none' } : {}) };
    };
    const canLoop = !ownTools && offered.length > 0;
    const messages: ChatMessage[] = [...body.messages];

    if (body.stream !== true) {
      for (let step = 0; ; step++) {
        const last = step >= deps.maxSteps;
        const completion = await upstream.chat(roundRequest(messages, last), signal);
        const message = completion.choices[0]?.message;
        const calls = message?.tool_calls ?? [];
        if (!canLoop || last || message === undefined || calls.length === 0)
          return c.json(completion);
        messages.push(message);
        for (const call of calls)
          messages.push(await runToolCall(deps, call, identity, requestId, signal));
      }
    }

    // Streaming: open the first round before answering, so an upstream failure is a plain HTTP error.
    let rounds = upstream.chatStream(roundRequest(messages, deps.maxSteps === 0), signal);
    let first = await rounds.next();
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        let sentRole = false;
        try {
          for (let step = 0; ; step++) {
            const calls: Accumulated[] = [];
            let content = '';
            for (; !first.done; first = await rounds.next()) {
              const chunk = first.value;
              const delta = chunk.choices[0]?.delta;
              if (canLoop && delta?.tool_calls !== undefined) {
                accumulate(calls, chunk);
                continue;
              }
              if (canLoop && chunk.choices[0]?.finish_reason === 'tool_calls') continue;
              if (delta?.content) content += delta.content;
              if (delta?.role !== undefined && sentRole && !delta.content) continue;
              if (delta?.role !== undefined) sentRole = true;
              controller.enqueue(sse(chunk));
            }
            if (calls.length === 0 || !canLoop) break;
            const toolCalls: ToolCall[] = calls.map((a, i) => ({
              id: a.id === '' ? `call_${step}_${i}` : a.id,
              type: 'function',
              function: { name: a.name, arguments: a.arguments },
            }));
            messages.push({
              role: 'assistant',
              content: content === '' ? null : content,
              tool_calls: toolCalls,
            });
            for (const call of toolCalls)
              messages.push(await runToolCall(deps, call, identity, requestId, signal));
            rounds = upstream.chatStream(roundRequest(messages, step + 1 >= deps.maxSteps), signal);
            first = await rounds.next();
          }
          controller.enqueue(sse('[DONE]'));
        } catch (err) {
          if (!signal.aborted) {
            const appError =
              err instanceof AppError ? err : new AppError('INTERNAL', 'internal error');
            c.get('log').warn({ err }, 'chat stream ended with an error');
            controller.enqueue(
              sse({
                error: {
                  ...appError.data,
                  code: appError.code,
                  message: appError.message,
                  type: 'server_error',
                },
              }),
            );
          }
        } finally {
          controller.close();
        }
      },
      cancel() {
        void rounds.return(undefined);
      },
    });
    return new Response(stream, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-request-id': requestId,
      },
    });
  });
}
