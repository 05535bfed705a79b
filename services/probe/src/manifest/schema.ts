import { z } from 'zod';

/**
 * The probe manifest: every service of the stack, how to check it, how often, what it depends
 * on and when it is in maintenance. The original shape
 * `{"services":[{"name","internal":[url],"external":[url]}]}` is a subset of it: `expand.ts`
 * turns URLs into default checks.
 */

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
export const serviceName = z.string().regex(NAME_RE, 'use letters, digits, . _ - (max 63)');

const httpUrl = z.url({ protocol: /^https?$/ }).max(4096);
const timeoutMs = z.number().int().min(50).max(300_000);

/** `200`, `"2xx"`, `"200-399"`, `"<500"`: what an HTTP status must be. */
export const StatusRuleSchema = z.union([
  z.number().int().min(100).max(599),
  z
    .string()
    .regex(
      /^([1-5]xx|[1-5]\d\d-[1-5]\d\d|<[1-5]\d\d|[1-5]\d\d)$/,
      'expected 200, "2xx", "200-399" or "<500"',
    ),
]);
export type StatusRule = z.infer<typeof StatusRuleSchema>;

const regexSource = z
  .string()
  .min(1)
  .max(500)
  .refine(
    (source) => {
      try {
        new RegExp(source);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'not a valid regular expression' },
  );

const checkBase = {
  /** Unique within the service; defaults to `<kind>` or `<kind>-<n>`. */
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._:-]{0,62}$/i)
    .optional(),
  /** A failing critical check makes the service down; a failing non-critical one, degraded. */
  critical: z.boolean().default(true),
  timeoutMs: timeoutMs.optional(),
  /** Extra attempts within one round before the check counts as failed. */
  retries: z.number().int().min(0).max(5).optional(),
  /** Runs this check less often than its service (e.g. browser checks every 5 minutes). */
  intervalS: z.number().int().min(1).max(86_400).optional(),
};

export const HttpCheckSchema = z.object({
  kind: z.literal('http'),
  ...checkBase,
  url: httpUrl,
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  headers: z.record(z.string().regex(/^[\w-]+$/), z.string().max(4096)).default({}),
  body: z.string().max(65_536).optional(),
  expectStatus: z.array(StatusRuleSchema).min(1).default(['200-399']),
  /** Text that must appear in the body. */
  keyword: z.string().min(1).max(1000).optional(),
  /** Text that must not appear in the body. */
  notKeyword: z.string().min(1).max(1000).optional(),
  regex: regexSource.optional(),
  /** A JSON body value: `path` like `status` or `checks.0.state`, compared to `equals`. */
  json: z
    .object({
      path: z.string().min(1).max(200),
      equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    })
    .optional(),
  /** Slower than this (but in time) is degraded. */
  latencyBudgetMs: z.number().int().min(1).max(300_000).optional(),
  /** A certificate expiring in fewer days is degraded; an expired one fails. */
  certMinDays: z.number().int().min(0).max(365).default(14),
  followRedirects: z.boolean().default(false),
  /** Accept certificates the system does not trust (the stack's internal CA). */
  insecureTls: z.boolean().default(false),
});

export const TcpCheckSchema = z.object({
  kind: z.literal('tcp'),
  ...checkBase,
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
  latencyBudgetMs: z.number().int().min(1).max(300_000).optional(),
});

export const BrowserCheckSchema = z.object({
  kind: z.literal('browser'),
  ...checkBase,
  url: httpUrl,
  /** Text the page must show (in its DOM text, or in OCR of the screenshot when `ocr`). */
  expectText: z.string().min(1).max(1000).optional(),
  /** An element the page must contain. */
  expectSelector: z.string().min(1).max(1000).optional(),
  /** The SSO login page instead of the app: `fail` (default) or `pass` (expected wall). */
  loginWall: z.enum(['fail', 'pass']).default('fail'),
  /** Also read the screenshot with tesseract (canvas-drawn apps, error images). */
  ocr: z.boolean().default(false),
});

export const ContainerCheckSchema = z.object({
  kind: z.literal('container'),
  ...checkBase,
  /** Defaults to the service's `container`. */
  container: z.string().min(1).max(253).optional(),
  /** Restarts within the window that make a restart loop. */
  maxRestarts: z.number().int().min(1).max(1000).default(3),
  restartWindowS: z.number().int().min(10).max(86_400).default(600),
});

export const AiCheckSchema = z.object({
  kind: z.literal('ai'),
  ...checkBase,
  /** Base URL of the OpenAI-compatible API, including `/v1`. */
  url: httpUrl,
  mode: z.enum(['chat', 'embedding', 'speech']),
  model: z.string().min(1).max(200),
  /** Name of an environment variable holding the API key (never the key itself). */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional(),
  latencyBudgetMs: z.number().int().min(1).max(300_000).optional(),
});

export const CheckSchema = z.discriminatedUnion('kind', [
  HttpCheckSchema,
  TcpCheckSchema,
  BrowserCheckSchema,
  ContainerCheckSchema,
  AiCheckSchema,
]);
export type CheckInput = z.input<typeof CheckSchema>;
/** A check as the manifest gives it (name, timeout and retries optional). */
export type CheckOutput = z.output<typeof CheckSchema>;
/** A check with its name, timeout and retries resolved: what the probe runs. */
export type Resolved<T> = T extends unknown
  ? Omit<T, 'name' | 'timeoutMs' | 'retries'> & { name: string; timeoutMs: number; retries: number }
  : never;
export type CheckSpec = Resolved<CheckOutput>;
export type HttpCheck = Resolved<z.output<typeof HttpCheckSchema>>;
export type TcpCheck = Resolved<z.output<typeof TcpCheckSchema>>;
export type BrowserCheck = Resolved<z.output<typeof BrowserCheckSchema>>;
export type ContainerCheck = Resolved<z.output<typeof ContainerCheckSchema>>;
export type AiCheck = Resolved<z.output<typeof AiCheckSchema>>;
export type CheckKind = CheckSpec['kind'];
export const CHECK_KINDS: readonly CheckKind[] = ['http', 'tcp', 'browser', 'container', 'ai'];

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (UTC)');

/** A one-off window (`start`/`end`) or a weekly one (`days`, `from`/`to` in UTC). */
export const MaintenanceWindowSchema = z.union([
  z
    .object({
      start: z.iso.datetime({ offset: true }),
      end: z.iso.datetime({ offset: true }),
      reason: z.string().max(500).optional(),
    })
    .refine((w) => Date.parse(w.start) < Date.parse(w.end), {
      message: 'end must be after start',
      path: ['end'],
    }),
  z.object({
    days: z.array(z.enum(DAYS)).min(1),
    from: hhmm,
    to: hhmm,
    reason: z.string().max(500).optional(),
  }),
]);
export type MaintenanceWindow = z.infer<typeof MaintenanceWindowSchema>;

export const ThresholdsSchema = z.object({
  /** Consecutive failed rounds before `down` (or `degraded` rounds before `degraded`). */
  failure: z.number().int().min(1).max(20).optional(),
  /** Consecutive good rounds before a down or degraded service is `up` again. */
  success: z.number().int().min(1).max(20).optional(),
});

export const ServiceSchema = z.object({
  name: serviceName,
  description: z.string().max(500).optional(),
  /** The container that runs it (for container checks and, later, remediation). */
  container: z.string().min(1).max(253).optional(),
  intervalS: z.number().int().min(1).max(86_400).optional(),
  thresholds: ThresholdsSchema.default({}),
  dependsOn: z.array(serviceName).default([]),
  maintenance: z.array(MaintenanceWindowSchema).default([]),
  checks: z.array(CheckSchema).default([]),
  /** The original shape: URLs reached inside the stack network, expanded into HTTP checks. */
  internal: z.array(httpUrl).default([]),
  /** URLs users reach through the proxy, expanded into HTTP and browser checks. */
  external: z.array(httpUrl).default([]),
  /** Free-form grouping shown in the dashboard (compose profile, tier). */
  group: z.string().max(100).optional(),
});

export const DefaultsSchema = z.object({
  intervalS: z.number().int().min(1).max(86_400).optional(),
  timeoutMs: timeoutMs.default(10_000),
  retries: z.number().int().min(0).max(5).default(1),
  thresholds: z
    .object({
      failure: z.number().int().min(1).max(20).default(2),
      success: z.number().int().min(1).max(20).default(1),
    })
    .prefault({}),
});

export const ManifestSchema = z.object({
  version: z.literal(1).default(1),
  defaults: DefaultsSchema.prefault({}),
  services: z.array(ServiceSchema),
});
export type ManifestInput = z.input<typeof ManifestSchema>;

/** A service with every default applied and every check named: what the probe runs. */
export interface ServiceSpec {
  name: string;
  description?: string | undefined;
  container?: string | undefined;
  group?: string | undefined;
  intervalS: number;
  thresholds: { failure: number; success: number };
  dependsOn: string[];
  maintenance: MaintenanceWindow[];
  checks: CheckSpec[];
}

export interface Manifest {
  services: ServiceSpec[];
}
