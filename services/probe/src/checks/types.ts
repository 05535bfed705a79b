import type { SignatureMatch } from '../judge/signatures.ts';
import type { CheckKind, CheckSpec } from '../manifest/schema.ts';

/** One redirect of an HTTP check: where it pointed and what the next request left behind. */
export interface RedirectHop {
  status: number;
  /** The next URL, resolved (user:password removed when it leaves the origin). */
  location: string;
  /** Scheme, host or port differ from the request that got the redirect. */
  crossOrigin: boolean;
  /** What the next request did not carry: lower-case header names, `body`, `userinfo`. */
  dropped: string[];
  /** The next request's method when the redirect changed it (a 303 or a POST's 301/302). */
  method?: string;
  /** Set when the redirect was not followed, and why (a cross-origin 307/308 with a body). */
  refused?: string;
}

/** What one check saw: enough to judge the verdict again without re-running it. */
export interface Evidence {
  /** Each rule the attempt broke, in words. Empty on a pass. */
  reasons: string[];
  url?: string;
  finalUrl?: string;
  httpStatus?: number;
  /** Each redirect followed (or refused), in order. */
  redirects?: RedirectHop[];
  /** A few response headers (server, content-type, location). */
  headers?: Record<string, string>;
  title?: string;
  /** The beginning of the body or visible text (size-limited). */
  textExcerpt?: string;
  ocrExcerpt?: string;
  signatures?: SignatureMatch[];
  certificate?: {
    subject: string;
    issuer: string;
    validTo: string;
    daysLeft: number;
    msLeft?: number;
    /** validTo − validFrom. */
    lifetimeMs?: number;
  };
  /** Screenshot file under the proofs directory (content-addressed name). */
  proof?: string;
  loginWall?: boolean;
  container?: {
    name: string;
    state: string;
    health?: string | undefined;
    exitCode?: number | null | undefined;
    oomKilled?: boolean | undefined;
    restartCount?: number | undefined;
    restartsInWindow?: number | undefined;
    /** Restarts since the previous round: the engine's restart policy brought it back. */
    restartsSinceLast?: number | undefined;
    startedAt?: string | null | undefined;
    finishedAt?: string | null | undefined;
  };
  ai?: { model: string; mode: string; detail?: string };
  /** The error that ended the attempt (network, timeout, API). */
  error?: { code: string; message: string };
}

/**
 * `unknown`: the check could not be performed for reasons outside the target (the browser
 * service or tool server is down or busy). It neither passes nor fails the service.
 */
export type CheckStatus = 'pass' | 'degraded' | 'fail' | 'unknown';

/** The outcome of one attempt of one check. */
export interface Attempt {
  status: CheckStatus;
  latencyMs: number;
  /** One line for tables and the dashboard. */
  message: string;
  evidence: Evidence;
}

/** One check in one round, retries folded in. */
export interface CheckResult extends Attempt {
  service: string;
  check: string;
  kind: CheckKind;
  critical: boolean;
  /** 1 when the first attempt decided it. */
  attempts: number;
  /** Epoch milliseconds when the first attempt started. */
  startedAt: number;
}

export type RunCheck<C extends CheckSpec = CheckSpec> = (
  check: C,
  signal: AbortSignal,
) => Promise<Attempt>;

/** Characters of body/text kept as evidence. */
export const EXCERPT_CHARS = 1000;

export function excerpt(text: string, max = EXCERPT_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}…`;
}

export function errorEvidence(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'ERROR';
  return { code, message: typeof e.message === 'string' ? e.message : String(err) };
}

/** Picks the worse of two statuses. */
export function worst(a: CheckStatus, b: CheckStatus): CheckStatus {
  const rank = { unknown: -1, pass: 0, degraded: 1, fail: 2 } as const;
  return rank[a] >= rank[b] ? a : b;
}
