import type { CheckSpec, ServiceSpec } from '../manifest/schema.ts';
import type { Attempt, CheckResult } from './types.ts';

export type ScheduledCheck = ServiceSpec['checks'][number];

/** Runs one attempt of any check kind. */
export type AttemptRunner = (check: CheckSpec, signal: AbortSignal) => Promise<Attempt>;

const RETRY_DELAY_MS = 200;

/**
 * One attempt that never outlives `timeoutMs`: at the deadline its signal aborts and the
 * attempt is a `TIMEOUT` failure, whether or not the runner has noticed.
 */
export function attemptWithDeadline(
  run: AttemptRunner,
  check: ScheduledCheck,
  parent?: AbortSignal,
): Promise<Attempt> {
  const controller = new AbortController();
  const onParentAbort = (): void => controller.abort(parent?.reason);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Attempt>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error('check timeout'));
      resolve({
        status: 'fail',
        latencyMs: Math.round(performance.now() - started),
        message: `TIMEOUT: no verdict within ${check.timeoutMs} ms`,
        evidence: {
          reasons: [`TIMEOUT: no verdict within ${check.timeoutMs} ms`],
          error: { code: 'TIMEOUT', message: `no verdict within ${check.timeoutMs} ms` },
        },
      });
    }, check.timeoutMs);
  });
  const attempt = run(check, controller.signal).catch((err: unknown): Attempt => ({
    status: 'fail',
    latencyMs: Math.round(performance.now() - started),
    message: `probe error: ${(err as Error).message}`,
    evidence: {
      reasons: [`probe error: ${(err as Error).message}`],
      error: { code: 'PROBE_ERROR', message: (err as Error).message },
    },
  }));
  return Promise.race([attempt, deadline]).finally(() => {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
  });
}

/** A check with its retries: a failed attempt is tried again up to `retries` times. */
export async function runCheck(
  run: AttemptRunner,
  service: string,
  check: ScheduledCheck,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const startedAt = Date.now();
  let attempts = 0;
  let attempt: Attempt;
  for (;;) {
    attempts += 1;
    attempt = await attemptWithDeadline(run, check, signal);
    if (attempt.status !== 'fail' || attempts > check.retries || signal?.aborted === true) break;
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempts));
  }
  return {
    ...attempt,
    service,
    check: check.name,
    kind: check.kind,
    critical: check.critical,
    attempts,
    startedAt,
  };
}
