import { z } from 'zod';
import { serviceName } from '../manifest/schema.ts';
import { ACTIONS, EXECUTABLE, type ActionKind, type Pattern, type Safety } from './types.ts';

/**
 * The policy: data, not model output. Which actions run unattended, per service; the restart
 * budget, backoff and circuit breaker; earned autonomy. `decide` is a pure function of the
 * proposal, the policy and the service's recent history.
 */

const SafetySchema = z.enum(['safe', 'needs_review', 'forbidden']);
const actionSafety = z.partialRecord(z.enum(ACTIONS), SafetySchema);

/** The design's defaults: what fixes itself, what asks first. */
export const DEFAULT_SAFETY: Readonly<Record<ActionKind, Safety>> = {
  restart: 'safe',
  start: 'safe',
  wait_for_health: 'safe',
  restart_dependents: 'safe',
  exec: 'safe',
  scale_memory: 'safe',
  config_change: 'needs_review',
  recreate: 'needs_review',
  data_migration: 'needs_review',
  security_update: 'needs_review',
};

const Budget = z.object({
  /** Actions on one service within the window before the circuit breaker opens. */
  max: z.number().int().min(1).max(100).default(3),
  windowS: z.number().int().min(10).max(86_400).default(900),
});

export const HealConfigSchema = z.object({
  /** Off: incidents and proposals are still made, nothing runs on its own. */
  enabled: z.boolean().default(true),
  /** Overrides of DEFAULT_SAFETY for every service. */
  actions: actionSafety.default({}),
  services: z
    .record(
      serviceName,
      z.object({
        actions: actionSafety.default({}),
        restartBudget: Budget.optional(),
        /** Highest memory limit scale_memory may set for this service. */
        maxMemoryMb: z.number().int().min(16).max(1_048_576).optional(),
        /** Commands to try for a finding before a restart (argv, no shell; exec must be allowlisted in the tool server too). */
        remedies: z
          .array(
            z.object({
              finding: z.string().min(1).max(64),
              argv: z.array(z.string().min(1).max(1000)).min(1).max(32),
            }),
          )
          .default([]),
      }),
    )
    .default({}),
  restartBudget: Budget.prefault({}),
  backoff: z
    .object({
      /** Wait after the first action before a second one on the same service. */
      baseS: z.number().min(0).max(3600).default(10),
      factor: z.number().min(1).max(10).default(2),
      maxS: z.number().min(0).max(86_400).default(300),
    })
    .prefault({}),
  /** A pending approval lapses after this long. */
  approvalTtlMinutes: z
    .number()
    .min(1)
    .max(60 * 24 * 30)
    .default(60),
  /** Human-approved, verified successes of one action on one failure pattern before it runs unattended. */
  autonomyAfter: z.number().int().min(1).max(100).default(3),
  verify: z
    .object({
      timeoutS: z.number().min(1).max(3600).default(60),
      intervalS: z.number().min(0.2).max(300).default(2),
    })
    .prefault({}),
  /** Default cap of scale_memory (MiB). */
  maxMemoryMb: z.number().int().min(16).max(1_048_576).default(8192),
  notify: z
    .object({
      /** POSTs a JSON body per notification. */
      webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
      ntfy: z
        .object({
          url: z.url({ protocol: /^https?$/ }).default('https://ntfy.sh'),
          topic: z.string().regex(/^[\w-]{1,64}$/),
          token: z.string().min(1).optional(),
        })
        .optional(),
    })
    .prefault({}),
});
export type HealConfig = z.infer<typeof HealConfigSchema>;

export function safetyOf(config: HealConfig, service: string, action: ActionKind): Safety {
  return (
    config.services[service]?.actions[action] ?? config.actions[action] ?? DEFAULT_SAFETY[action]
  );
}

export function budgetOf(config: HealConfig, service: string): { max: number; windowS: number } {
  return config.services[service]?.restartBudget ?? config.restartBudget;
}

export function maxMemoryOf(config: HealConfig, service: string): number {
  return config.services[service]?.maxMemoryMb ?? config.maxMemoryMb;
}

export interface DecisionContext {
  service: string;
  action: ActionKind;
  now: number;
  /** A finding that forbids acting (operator stop, unmanaged container). */
  blockedBy?: string | undefined;
  inMaintenance: boolean;
  /** Start times of the actions taken on this service (any incident), newest last. */
  recentActions: readonly number[];
  pattern?: Pattern | undefined;
  /**
   * Set when the only evidence for the action is untrusted text (an error phrase in the
   * content of a page that answered successfully): why. Such an action waits for a person,
   * whatever the safety table or earned autonomy says (DESIGN §2: page text cannot widen
   * what runs).
   */
  untrustedOnly?: string | undefined;
}

export type Decision =
  | { verdict: 'auto'; safety: Safety; reason: string }
  | { verdict: 'approval'; safety: Safety; reason: string }
  | { verdict: 'defer'; safety: Safety; reason: string; retryAt: number }
  | { verdict: 'refused'; safety: Safety; reason: string; circuitOpen?: boolean };

/** Seconds to wait after the n-th recent action (n ≥ 1) before the next. */
export function backoffS(config: HealConfig, n: number): number {
  if (n <= 0) return 0;
  return Math.min(config.backoff.maxS, config.backoff.baseS * config.backoff.factor ** (n - 1));
}

export function decide(config: HealConfig, ctx: DecisionContext): Decision {
  const safety = safetyOf(config, ctx.service, ctx.action);
  if (safety === 'forbidden')
    return { verdict: 'refused', safety, reason: `policy forbids ${ctx.action} on ${ctx.service}` };
  if (ctx.blockedBy !== undefined)
    return { verdict: 'refused', safety, reason: `not touching it: ${ctx.blockedBy}` };
  if (ctx.inMaintenance)
    return { verdict: 'refused', safety, reason: 'in a maintenance window: no actions' };
  if (!EXECUTABLE.has(ctx.action)) {
    return {
      verdict: 'approval',
      safety,
      reason: `${ctx.action} needs a person: the control plane cannot do it`,
    };
  }
  const budget = budgetOf(config, ctx.service);
  const inWindow = ctx.recentActions.filter((t) => ctx.now - t < budget.windowS * 1000);
  if (inWindow.length >= budget.max) {
    return {
      verdict: 'refused',
      safety,
      circuitOpen: true,
      reason: `circuit breaker open: ${inWindow.length} actions on ${ctx.service} within ${budget.windowS} s (budget ${budget.max})`,
    };
  }
  const last = inWindow[inWindow.length - 1];
  if (last !== undefined) {
    const retryAt = last + backoffS(config, inWindow.length) * 1000;
    if (ctx.now < retryAt) {
      return {
        verdict: 'defer',
        safety,
        retryAt,
        reason: `backing off: ${inWindow.length} recent action(s), next allowed in ${Math.ceil((retryAt - ctx.now) / 1000)} s`,
      };
    }
  }
  if (!config.enabled)
    return {
      verdict: 'approval',
      safety,
      reason: 'automatic healing is off (heal.enabled: false)',
    };
  if (ctx.untrustedOnly !== undefined)
    return {
      verdict: 'approval',
      safety,
      reason: `${ctx.action} waits for a person: ${ctx.untrustedOnly}`,
    };
  if (safety === 'safe')
    return { verdict: 'auto', safety, reason: `${ctx.action} is safe by policy` };
  if (ctx.pattern?.autonomous === true) {
    return {
      verdict: 'auto',
      safety,
      reason: `earned autonomy: ${ctx.pattern.approvedSuccesses} approved, verified successes of ${ctx.action} on this failure pattern`,
    };
  }
  return { verdict: 'approval', safety, reason: `${ctx.action} needs review by policy` };
}

/**
 * The pattern after a verified outcome: an approved success counts toward autonomy, which is
 * earned at `autonomyAfter`; any failed verification demotes at once.
 */
export function learn(
  config: HealConfig,
  previous: Pattern | undefined,
  input: {
    fingerprint: string;
    action: ActionKind;
    verified: boolean;
    humanApproved: boolean;
    now: number;
  },
): { pattern: Pattern; change?: 'graduated' | 'demoted' } {
  const base: Pattern = previous ?? {
    fingerprint: input.fingerprint,
    action: input.action,
    approvedSuccesses: 0,
    failures: 0,
    autonomous: false,
    updatedAt: input.now,
  };
  if (!input.verified) {
    // Trust is earned again from zero.
    const pattern = {
      ...base,
      failures: base.failures + 1,
      approvedSuccesses: 0,
      autonomous: false,
      updatedAt: input.now,
    };
    return base.autonomous ? { pattern, change: 'demoted' } : { pattern };
  }
  const approvedSuccesses = base.approvedSuccesses + (input.humanApproved ? 1 : 0);
  const autonomous = base.autonomous || approvedSuccesses >= config.autonomyAfter;
  const pattern = { ...base, approvedSuccesses, autonomous, updatedAt: input.now };
  return !base.autonomous && autonomous ? { pattern, change: 'graduated' } : { pattern };
}
