import { z } from 'zod';
import type { EnvBinding, ValidationIssue } from '@datamancy/core';

/**
 * The model router's configuration: devices with a memory budget, and the models that share
 * them, each with its backend (how it is made resident) and its scheduling facts (footprint,
 * load timeout, idle TTL, pin, priority). No models by default: the router then only answers
 * `/v1/models` with an empty list.
 */

const modelName = z.string().regex(/^[\w.:/-]{1,128}$/, 'letters, digits and . : / _ -');

const healthPath = z
  .string()
  .regex(/^\/[\w/.-]*$/)
  .default('/health');

const UrlBackendSchema = z
  .object({
    kind: z.literal('url'),
    /** An always-on OpenAI-compatible server (its `/v1` base or the server root). */
    url: z.url({ protocol: /^https?$/ }),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/)
      .optional(),
  })
  .strict();

const ProcessBackendSchema = z
  .object({
    kind: z.literal('process'),
    /** argv; `{port}` is replaced by a free port the router picks, `{model}` by the model name. */
    command: z.array(z.string().min(1)).min(1),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    cwd: z.string().min(1).optional(),
    healthPath,
    /** SIGTERM, then SIGKILL after this. */
    stopGraceS: z.number().min(0).max(600).default(10),
  })
  .strict();

const ContainerBackendSchema = z
  .object({
    kind: z.literal('container'),
    /** Container started and stopped through the container engine. */
    container: z.string().regex(/^[\w.-]{1,128}$/),
    /** Where the container's server answers once started, e.g. http://vllm-qwen:8000. */
    url: z.url({ protocol: /^https?$/ }),
    healthPath,
    stopGraceS: z.number().min(0).max(600).default(10),
  })
  .strict();

const VllmSleepBackendSchema = z
  .object({
    kind: z.literal('vllm-sleep'),
    /** A vLLM server started with --enable-sleep-mode: /sleep parks the weights, /wake_up restores. */
    url: z.url({ protocol: /^https?$/ }),
    /** 1: weights to CPU memory (fast wake); 2: weights discarded (reload from disk on wake). */
    level: z.union([z.literal(1), z.literal(2)]).default(1),
    healthPath,
  })
  .strict();

export const BackendSchema = z.discriminatedUnion('kind', [
  UrlBackendSchema,
  ProcessBackendSchema,
  ContainerBackendSchema,
  VllmSleepBackendSchema,
]);
export type BackendConfig = z.output<typeof BackendSchema>;

export const ModelSchema = z
  .object({
    name: modelName,
    aliases: z.array(modelName).default([]),
    /** The name the backend knows it by (default: `name`). */
    upstreamModel: z.string().min(1).max(256).optional(),
    backend: BackendSchema,
    device: z
      .string()
      .regex(/^[\w-]{1,64}$/)
      .default('gpu0'),
    /** Footprint on its device while resident. */
    memoryGiB: z.number().min(0).max(4096),
    /** Footprint while asleep (vllm-sleep), usually a little for the KV cache. */
    sleepMemoryGiB: z.number().min(0).max(4096).default(0),
    loadTimeoutS: z.number().min(1).max(3600).default(600),
    /** Unloaded after this long without requests; absent: stays until evicted. */
    idleTtlS: z
      .number()
      .min(1)
      .max(86_400 * 30)
      .optional(),
    /** Never evicted (loaded at start). */
    pin: z.boolean().default(false),
    /** Higher is kept longer when memory is short. */
    priority: z.number().int().min(-100).max(100).default(0),
    /** Estimated seconds to (re)load, until a load has been measured. */
    loadCostS: z.number().min(0).max(3600).optional(),
    /** Requests served at once by this model; more wait in its queue. */
    maxConcurrent: z.number().int().min(1).max(10_000).default(256),
  })
  .strict();
export type ModelConfig = z.output<typeof ModelSchema>;

export const ModelRouterConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(8010),
    host: z.string().min(1).optional(),
    /** Memory budget per device, GiB. */
    devices: z
      .record(
        z.string().regex(/^[\w-]{1,64}$/),
        z.object({ memoryGiB: z.number().min(0).max(65_536) }).strict(),
      )
      .default({ gpu0: { memoryGiB: 24 } }),
    models: z.array(ModelSchema).default([]),
    queue: z
      .object({
        /** Requests waiting for one model; beyond: 429 with Retry-After. */
        perModel: z.number().int().min(1).max(100_000).default(256),
        /** Requests waiting in all; beyond: 429. */
        total: z.number().int().min(1).max(1_000_000).default(1024),
      })
      .strict()
      .prefault({}),
    scheduling: z
      .object({
        /**
         * `affine`: serve a resident model's requests while others wait, up to the starvation
         * cap, so alternating traffic does not swap per request; `fifo`: strict arrival order.
         */
        policy: z.enum(['affine', 'fifo']).default('affine'),
        /** The longest a request waits for its model while another keeps the memory. */
        starvationMs: z.number().int().min(0).max(600_000).default(2000),
        /** After a failed load, requests for that model get 503 for this long. */
        failureCooldownS: z.number().min(0).max(3600).default(10),
      })
      .strict()
      .prefault({}),
    /** Largest request body, bytes. */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(8 * 1024 * 1024),
    /** Idle upstream response (between chunks), ms; then the request fails with 504. */
    upstreamTimeoutMs: z.number().int().min(100).max(3_600_000).default(600_000),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const issue of checkModels(config))
      ctx.addIssue({ code: 'custom', path: issue.path.split('.'), message: issue.message });
  });
export type ModelRouterConfig = z.output<typeof ModelRouterConfigSchema>;

/** Unique names and aliases, known devices, and pins that fit their device. */
export function checkModels(config: {
  devices: Record<string, { memoryGiB: number }>;
  models: readonly {
    name: string;
    aliases: string[];
    device: string;
    memoryGiB: number;
    pin: boolean;
  }[];
}): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Map<string, string>();
  config.models.forEach((m, i) => {
    for (const n of [m.name, ...m.aliases]) {
      const other = seen.get(n);
      if (other !== undefined)
        issues.push({
          path: `models.${String(i)}.name`,
          message: `"${n}" is already a name of ${other}`,
        });
      seen.set(n, m.name);
    }
    if (config.devices[m.device] === undefined)
      issues.push({
        path: `models.${String(i)}.device`,
        message: `unknown device "${m.device}" (devices: ${Object.keys(config.devices).join(', ')})`,
      });
  });
  for (const [device, { memoryGiB }] of Object.entries(config.devices)) {
    const pinned = config.models.filter((m) => m.pin && m.device === device);
    const total = pinned.reduce((sum, m) => sum + m.memoryGiB, 0);
    if (total > memoryGiB)
      issues.push({
        path: `devices.${device}.memoryGiB`,
        message: `pinned models need ${String(total)} GiB (${pinned.map((m) => m.name).join(', ')}), more than the ${String(memoryGiB)} GiB budget`,
      });
  }
  return issues;
}

export const MODEL_ROUTER_ENV_BINDINGS: readonly EnvBinding[] = [
  { env: 'MODEL_ROUTER_PORT', path: 'modelRouter.port', kind: 'int' },
  { env: 'MODEL_ROUTER_HOST', path: 'modelRouter.host' },
  { env: 'MODEL_ROUTER_STARVATION_MS', path: 'modelRouter.scheduling.starvationMs', kind: 'int' },
  { env: 'MODEL_ROUTER_POLICY', path: 'modelRouter.scheduling.policy' },
];
