import { z } from 'zod';

export const CorePluginConfigSchema = z.object({
  /** Upper bound for `http_get`'s body budget. */
  httpMaxBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(1024 * 1024),
});
export type CorePluginConfig = z.infer<typeof CorePluginConfigSchema>;
