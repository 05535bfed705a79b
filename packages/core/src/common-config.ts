import { z } from 'zod';
import { AuthConfigSchema } from './auth.ts';
import type { EnvBinding } from './config.ts';

/** Settings every service shares: where data lives, how callers authenticate, the LLM. */

export const LlmConfigSchema = z.object({
  /** OpenAI-compatible base URL including `/v1`, e.g. LiteLLM's. Unset: no LLM. */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  apiKey: z.string().optional(),
  model: z.string().min(1).default('default'),
  embeddingModel: z.string().min(1).default('embed'),
  timeoutMs: z.number().int().min(1000).max(600_000).default(120_000),
  /** Tool-call rounds the chat proxy allows before it asks for a final answer. */
  maxSteps: z.number().int().min(1).max(50).default(8),
});
export type LlmConfig = z.infer<typeof LlmConfigSchema>;

export const CommonConfigSchema = z.object({
  dataDir: z.string().min(1).default('./data'),
  /** PostgreSQL instead of the SQLite file in the data directory. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected postgres://user@host:port/db')
    .optional(),
  /** Address services bind to; 0.0.0.0 in containers. */
  host: z.string().min(1).default('127.0.0.1'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The stack's public domain, substituted for `${DOMAIN}`. */
  domain: z.string().min(1).default('datamancy.local'),
  auth: AuthConfigSchema.prefault({}),
  llm: LlmConfigSchema.prefault({}),
  containerEngine: z
    .object({
      /** `unix:///path` or `tcp://host:port`; unset: the usual Docker/Podman sockets. */
      host: z.string().min(1).optional(),
      /** Where a rootless engine's socket lives ($XDG_RUNTIME_DIR). */
      runtimeDir: z.string().min(1).optional(),
    })
    .prefault({}),
});
export type CommonConfig = z.infer<typeof CommonConfigSchema>;

export const COMMON_ENV_BINDINGS: readonly EnvBinding[] = [
  { env: 'DATAMANCY_DATA_DIR', path: 'dataDir' },
  { env: 'DATABASE_URL', path: 'databaseUrl' },
  { env: 'DATAMANCY_HOST', path: 'host' },
  { env: 'DATAMANCY_LOG_LEVEL', path: 'logLevel' },
  { env: 'LOG_LEVEL', path: 'logLevel' },
  { env: 'DOMAIN', path: 'domain' },
  { env: 'DATAMANCY_API_TOKEN', path: 'auth.adminToken' },
  { env: 'DATAMANCY_TOKENS_FILE', path: 'auth.tokensFile' },
  { env: 'LLM_BASE_URL', path: 'llm.baseUrl' },
  { env: 'LLM_API_KEY', path: 'llm.apiKey' },
  { env: 'LLM_MODEL', path: 'llm.model' },
  { env: 'LLM_EMBED_MODEL', path: 'llm.embeddingModel' },
  { env: 'MAX_STEPS', path: 'llm.maxSteps', kind: 'int' },
  { env: 'DOCKER_HOST', path: 'containerEngine.host' },
  { env: 'XDG_RUNTIME_DIR', path: 'containerEngine.runtimeDir' },
];
