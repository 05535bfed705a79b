import { z } from 'zod';
import { definePlugin, OpenAiUpstream, toolsFor } from '@datamancy/plugin-sdk';

export const LlmPluginConfigSchema = z.object({
  baseUrl: z.string().optional(),
  apiKey: z.string().optional(),
  model: z.string().default('default'),
  embeddingModel: z.string().default('embed'),
  timeoutMs: z.number().int().min(1000).default(120_000),
});
export type LlmPluginConfig = z.infer<typeof LlmPluginConfigSchema>;

const tool = toolsFor<LlmPluginConfig>();

function upstream(config: LlmPluginConfig): OpenAiUpstream {
  return new OpenAiUpstream({
    baseUrl: config.baseUrl ?? '',
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
  });
}

const MessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(200_000),
});

export const llmChatCompletion = tool({
  name: 'llm_chat_completion',
  description: 'Ask the stack LLM (via LiteLLM) for a completion. Give `prompt` or `messages`.',
  timeoutMs: 180_000,
  input: z
    .object({
      prompt: z.string().max(200_000).optional(),
      system: z.string().max(50_000).optional(),
      messages: z.array(MessageSchema).min(1).max(200).optional(),
      model: z.string().min(1).optional(),
      max_tokens: z.number().int().min(1).max(32_768).default(512),
      temperature: z.number().min(0).max(2).default(0.2),
    })
    .refine((a) => (a.prompt === undefined) !== (a.messages === undefined), {
      message: 'give exactly one of prompt or messages',
      path: ['prompt'],
    }),
  async handler(ctx, args) {
    const messages = args.messages ?? [
      ...(args.system === undefined ? [] : [{ role: 'system' as const, content: args.system }]),
      { role: 'user' as const, content: args.prompt ?? '' },
    ];
    const completion = await upstream(ctx.config).chat(
      {
        model: args.model ?? ctx.config.model,
        messages,
        max_tokens: args.max_tokens,
        temperature: args.temperature,
      },
      ctx.signal,
    );
    const choice = completion.choices[0];
    return {
      content: typeof choice?.message.content === 'string' ? choice.message.content : '',
      finishReason: choice?.finish_reason ?? null,
      model: completion.model,
      usage: completion.usage ?? null,
    };
  },
});

export const llmEmbedText = tool({
  name: 'llm_embed_text',
  description: 'Embed one text or a batch of texts with the stack embedding model.',
  timeoutMs: 120_000,
  maxOutputBytes: 16 * 1024 * 1024,
  input: z.object({
    input: z.union([
      z.string().min(1).max(100_000),
      z.array(z.string().min(1).max(100_000)).min(1).max(256),
    ]),
    model: z.string().min(1).optional(),
  }),
  async handler(ctx, args) {
    const res = await upstream(ctx.config).embeddings(
      args.input,
      args.model ?? ctx.config.embeddingModel,
      ctx.signal,
    );
    const embeddings = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    return {
      model: res.model,
      dimensions: embeddings[0]?.length ?? 0,
      embeddings,
      usage: res.usage ?? null,
    };
  },
});

export const llmPlugin = definePlugin<LlmPluginConfig>({
  id: 'llm',
  version: '1.0.0',
  apiVersion: 1,
  description:
    'Chat completions and embeddings from the stack LLM through its OpenAI-compatible API.',
  capabilities: ['host.network.http'],
  requires: { api: '^1.0.0' },
  configSchema: LlmPluginConfigSchema,
  unavailableReason: (config) =>
    config.baseUrl === undefined ? 'no LLM configured (set LLM_BASE_URL)' : undefined,
  tools: [llmChatCompletion, llmEmbedText],
});
