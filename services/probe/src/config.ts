import { isIP } from 'node:net';
import { z } from 'zod';
import type { EnvBinding } from '@datamancy/core';
import { HealConfigSchema } from './heal/policy.ts';

const serviceUrl = z.url({ protocol: /^https?$/ });

/**
 * One proxy address whose SSO headers count. A range is refused: anything else on that network
 * could then sign in as anyone, and the stack gives Caddy a fixed address. `a/32` and `a/128`
 * name one address and are taken as `a`.
 */
export const TrustedProxySchema = z.string().transform((entry, ctx) => {
  const [address = '', prefix, ...rest] = entry.trim().split('/');
  const family = isIP(address);
  const single = family === 6 ? '128' : '32';
  if (family === 0 || rest.length > 0) {
    ctx.addIssue({ code: 'custom', message: `not an IP address: ${entry}` });
    return z.NEVER;
  }
  if (prefix !== undefined && prefix !== single) {
    ctx.addIssue({
      code: 'custom',
      message: `${entry} is a range: give the proxy's own address (SSO headers from any other host on that network would be believed; the stack gives Caddy a fixed address)`,
    });
    return z.NEVER;
  }
  return address;
});

export const ProbeConfigSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8089),
  /** Overrides the shared bind address for this service. */
  host: z.string().min(1).optional(),
  /** The manifest (YAML or JSON). Unset: discovered from the container engine and ourselves. */
  manifestPath: z.string().min(1).optional(),
  /** Interval of services that name none. */
  intervalS: z.number().int().min(1).max(86_400).default(30),
  /** Without a manifest, list what the local container engine runs (when one answers). */
  discover: z.boolean().default(true),
  /** The tool server (container checks, the agent's tools). Unset: those checks are unknown. */
  toolServer: z
    .object({ url: serviceUrl.optional(), token: z.string().min(1).optional() })
    .prefault({}),
  /** The browser service (browser checks). Unset: those checks are unknown. */
  browser: z
    .object({ url: serviceUrl.optional(), token: z.string().min(1).optional() })
    .prefault({}),
  /** Where screenshots are kept; default `<dataDir>/proofs`. */
  proofsDir: z.string().min(1).optional(),
  concurrency: z
    .object({
      /** Checks running at once, all kinds together. */
      global: z.number().int().min(1).max(1024).default(128),
      http: z.number().int().min(1).max(1024).default(128),
      tcp: z.number().int().min(1).max(1024).default(128),
      /** Screenshots are costly: a few at a time. */
      browser: z.number().int().min(1).max(32).default(2),
      container: z.number().int().min(1).max(256).default(16),
      ai: z.number().int().min(1).max(64).default(2),
    })
    .prefault({}),
  /** Random spread of each service's interval, as a fraction (0.1 = ±10 %). */
  jitter: z.number().min(0).max(0.5).default(0.1),
  /** After a start, every service gets its first round within this many seconds. */
  startupSpreadS: z.number().min(0).max(300).default(5),
  retention: z
    .object({
      /** Raw results kept this long, then folded into hourly rollups. */
      rawDays: z.number().min(0.01).max(365).default(7),
      /** Rollups, rounds, transitions and reports kept this long. */
      keepDays: z.number().min(1).max(3650).default(90),
    })
    .prefault({}),
  ocr: z
    .object({
      enabled: z.boolean().default(true),
      binary: z.string().min(1).default('tesseract'),
      language: z
        .string()
        .regex(/^[a-z_+]{3,40}$/)
        .default('eng'),
    })
    .prefault({}),
  /** Hosts that `POST /start-probe` may reach besides loopback, the stack and the manifest's. */
  allowHosts: z.array(z.string().min(1)).default([]),
  dashboard: z
    .object({
      /** Proxy addresses (single ones) whose `Remote-User`/`Remote-Groups` headers count. */
      trustedProxies: z.array(TrustedProxySchema).default([]),
      /** SSO groups whose members may act (run probes, maintenance, approve); others read. */
      adminGroups: z.array(z.string().min(1)).default(['admins']),
      sessionHours: z
        .number()
        .min(0.1)
        .max(24 * 30)
        .default(12),
    })
    .prefault({}),
  /** Self-healing: policy, budgets, approvals, notifications (docs/healing.md). */
  heal: HealConfigSchema.prefault({}),
  /** The optional LLM investigator (needs `llm.baseUrl`). */
  agent: z
    .object({
      enabled: z.boolean().default(false),
      /** Characters of untrusted page text handed to the model. */
      maxEvidenceChars: z.number().int().min(200).max(50_000).default(4000),
    })
    .prefault({}),
});
export type ProbeConfig = z.infer<typeof ProbeConfigSchema>;

export const PROBE_ENV_BINDINGS: readonly EnvBinding[] = [
  { env: 'PROBE_PORT', path: 'probe.port', kind: 'int' },
  { env: 'PROBE_HOST', path: 'probe.host' },
  { env: 'SERVICES_MANIFEST_PATH', path: 'probe.manifestPath' },
  { env: 'PROBE_INTERVAL_S', path: 'probe.intervalS', kind: 'int' },
  { env: 'PROBE_DISCOVER', path: 'probe.discover', kind: 'bool' },
  { env: 'KFUN_URL', path: 'probe.toolServer.url' },
  { env: 'KFUN_TOKEN', path: 'probe.toolServer.token' },
  { env: 'BROWSER_URL', path: 'probe.browser.url' },
  { env: 'BROWSER_TOKEN', path: 'probe.browser.token' },
  { env: 'PROOFS_DIR', path: 'probe.proofsDir' },
  { env: 'PROBE_ALLOW_HOSTS', path: 'probe.allowHosts', kind: 'list' },
  { env: 'PROBE_TRUSTED_PROXIES', path: 'probe.dashboard.trustedProxies', kind: 'list' },
  { env: 'PROBE_AGENT', path: 'probe.agent.enabled', kind: 'bool' },
  { env: 'HEAL_ENABLED', path: 'probe.heal.enabled', kind: 'bool' },
  { env: 'HEAL_WEBHOOK_URL', path: 'probe.heal.notify.webhookUrl' },
];
