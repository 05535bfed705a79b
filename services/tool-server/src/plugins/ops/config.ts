import { z } from 'zod';

/** One host the ops plugin may reach: where, as whom, with which key, pinned to which host key. */
export const OpsTargetSchema = z.object({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535).default(22),
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX user name')
    .default('stackops'),
  /** OpenSSH ed25519 private key (unencrypted; mode 600), made by `datamancy ops install`. */
  privateKeyPath: z.string().min(1),
  /** known_hosts file holding the target's host key; unknown or changed keys are refused. */
  knownHostsPath: z.string().min(1),
  /** Until the SSH session is authenticated. */
  connectTimeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  /** For the command, after the connection is up; callers may ask for less, never more. */
  commandTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
  /** Budget of stdout and of stderr each; the rest is counted and dropped. */
  maxOutputBytes: z
    .number()
    .int()
    .min(256)
    .max(1024 * 1024)
    .default(64 * 1024),
});
export type OpsTarget = z.infer<typeof OpsTargetSchema>;

const TARGET_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

export const OpsPluginConfigSchema = z
  .object({
    targets: z
      .record(z.string().regex(TARGET_NAME_RE, 'use letters, digits, . _ -'), OpsTargetSchema)
      .default({}),
    /** The target of calls that name none; may be omitted when there is exactly one. */
    defaultTarget: z.string().optional(),
  })
  .refine((c) => c.defaultTarget === undefined || c.defaultTarget in c.targets, {
    message: 'defaultTarget must name one of targets',
    path: ['defaultTarget'],
  });
export type OpsPluginConfig = z.infer<typeof OpsPluginConfigSchema>;

/** Upper bounds the tool declares statically, derived from the schema's maxima. */
export const OPS_LIMITS = {
  /** connect + command maxima, plus slack: our own timers fire first. */
  toolTimeoutMs: 60_000 + 600_000 + 5_000,
  /** Two streams at the maximum budget, JSON-escaped at worst 6×, plus the envelope. */
  toolMaxOutputBytes: 2 * 1024 * 1024 * 6 + 64 * 1024,
} as const;
