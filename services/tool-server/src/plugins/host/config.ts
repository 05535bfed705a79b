import { z } from 'zod';
import { ExecAllowlistSchema, type ContainerEngine } from '@datamancy/plugin-sdk';

export const HostPluginConfigSchema = z.object({
  /**
   * argv `docker_exec` may run, per container (or compose service) name. An entry matches
   * exactly; a last element `"*"` lets any further arguments follow. The Docker socket proxy
   * (services/docker-proxy) enforces the same list, by the same matcher, at the socket.
   */
  execAllowlist: ExecAllowlistSchema.default({}),
  stopTimeoutS: z.number().int().min(0).max(600).default(10),
  logsMaxBytes: z
    .number()
    .int()
    .min(1024)
    .max(8 * 1024 * 1024)
    .default(256 * 1024),
  execTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /**
   * A JSON file `{"sha256": ["<hex>", ...]}` of the digests of the stack's own secrets (the
   * `.env` values): any of them found in inspect output is redacted. Re-read when it changes;
   * when set but unreadable, inspect output is withheld (503), never sent unredacted.
   */
  redactDigestsFile: z.string().min(1).optional(),
  /** The highest memory limit `docker_update_memory` may set, in MiB. */
  maxMemoryMb: z
    .number()
    .int()
    .min(16)
    .max(1024 * 1024)
    .default(8192),
});
export type HostPluginConfig = z.infer<typeof HostPluginConfigSchema>;

/** What the registry hands the plugin besides its config. */
export interface HostPluginDeps {
  engine: ContainerEngine;
}
