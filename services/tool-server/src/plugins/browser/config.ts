import { z } from 'zod';

export const BrowserPluginConfigSchema = z.object({
  /** Base URL of the browser service. */
  url: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
  /** Bearer token for the browser service; without one the plugin is skipped. */
  token: z.string().min(1).optional(),
  /** Where screenshots are saved (`<dataDir>/proofs` when wired by the registry). */
  proofsDir: z.string().min(1).default('data/proofs'),
  /** Deadline of one call to the browser service (queue wait included). */
  timeoutMs: z.number().int().min(1_000).max(600_000).default(90_000),
});
export type BrowserPluginConfig = z.infer<typeof BrowserPluginConfigSchema>;
