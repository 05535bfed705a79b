import type { CheckResult } from '../checks/types.ts';
import type { RoundOutcome } from './state.ts';

/**
 * One round's outcome from its check results: a failed critical check fails the round; a
 * failed non-critical or a degraded check degrades it; a round that passed only thanks to a
 * retry says so. `unknown` results (the probe could not check) count for nothing; a round of
 * nothing but unknowns has no outcome and leaves the state alone.
 */
export function roundOutcome(results: readonly CheckResult[]): RoundOutcome | undefined {
  const known = results.filter((r) => r.status !== 'unknown');
  if (known.length === 0) return undefined;
  if (known.some((r) => r.status === 'fail' && r.critical)) return 'fail';
  if (known.some((r) => r.status === 'fail' || r.status === 'degraded')) return 'degraded';
  return known.some((r) => r.attempts > 1) ? 'pass_after_retry' : 'pass';
}
