import { describe, expect, it } from 'vitest';
import {
  FLAP_WINDOW,
  INITIAL_STATUS,
  NO_STREAKS,
  ROUND_OUTCOMES,
  step,
  TRANSITIONS,
  type BaseState,
  type RoundOutcome,
  type StateStatus,
  type Streaks,
} from '../src/judge/state.ts';
import { roundOutcome } from '../src/judge/round.ts';
import type { CheckResult } from '../src/checks/types.ts';

const T = { failure: 2, success: 2 };
const BASES: BaseState[] = ['pending', 'up', 'degraded', 'down'];

/** The rules in words, written apart from the table they check. */
function expectedBase(from: BaseState, outcome: RoundOutcome, streak: number): BaseState {
  // `streak`: rounds in a row, this one included, that count toward the governing threshold
  if (outcome === 'fail') return streak >= T.failure ? 'down' : from;
  if (outcome === 'degraded') {
    if (from === 'down') return streak >= T.success ? 'degraded' : 'down';
    if (from === 'up') return streak >= T.failure ? 'degraded' : 'up';
    return 'degraded';
  }
  // pass or pass after retry
  if (from === 'pending' || from === 'up') return 'up';
  return streak >= T.success ? 'up' : from;
}

/** A status in `base` whose previous `k` rounds had the same signal as `outcome`. */
function statusWith(base: BaseState, outcome: RoundOutcome, k: number): StateStatus {
  const streaks: Streaks =
    outcome === 'fail'
      ? { bad: k, troubled: k, good: 0, notBad: 0 }
      : outcome === 'degraded'
        ? { bad: 0, troubled: k, good: 0, notBad: k }
        : { bad: 0, troubled: 0, good: k, notBad: k };
  return { ...INITIAL_STATUS, state: base, base, streaks };
}

describe('service state machine', () => {
  it('has a rule for every state and signal', () => {
    for (const base of BASES) {
      for (const signal of ['good', 'degraded', 'bad'] as const) {
        expect(TRANSITIONS[base][signal]).toHaveLength(2);
      }
    }
  });

  const cases: [BaseState, RoundOutcome, number, 'none' | 'maintenance' | 'blocked'][] = [];
  for (const base of BASES)
    for (const outcome of ROUND_OUTCOMES)
      for (const k of [0, 1, 2])
        for (const overlay of ['none', 'maintenance', 'blocked'] as const)
          cases.push([base, outcome, k, overlay]);

  it.each(cases)('%s + %s after %i like rounds (%s)', (base, outcome, k, overlay) => {
    const prev = statusWith(base, outcome, k);
    const result = step(
      prev,
      {
        outcome,
        inMaintenance: overlay === 'maintenance',
        blockedBy: overlay === 'blocked' ? 'db' : null,
      },
      T,
    );
    const wantBase = expectedBase(base, outcome, k + 1);
    expect(result.status.base).toBe(wantBase);
    const wantState =
      overlay === 'maintenance'
        ? 'maintenance'
        : overlay === 'blocked' && outcome === 'fail'
          ? 'blocked'
          : wantBase;
    expect(result.status.state).toBe(wantState);
    expect(result.status.blockedBy).toBe(wantState === 'blocked' ? 'db' : null);
    expect(result.transition === undefined).toBe(wantState === base);
    // alert only on a visible move into down/degraded, or a recovery from them
    const alerting =
      wantState !== base &&
      (wantState === 'down' ||
        wantState === 'degraded' ||
        (wantState === 'up' && (base === 'down' || base === 'degraded')));
    expect(result.alert).toBe(alerting);
  });

  it('walks pending → down → up with thresholds and says why', () => {
    let s = INITIAL_STATUS;
    let r = step(s, { outcome: 'fail', inMaintenance: false, blockedBy: null }, T);
    expect(r.status.state).toBe('pending');
    s = r.status;
    r = step(s, { outcome: 'fail', inMaintenance: false, blockedBy: null }, T);
    expect(r.transition).toEqual({
      from: 'pending',
      to: 'down',
      reason: '2 failed round(s) (threshold 2)',
    });
    s = r.status;
    r = step(s, { outcome: 'pass_after_retry', inMaintenance: false, blockedBy: null }, T);
    expect(r.status.state).toBe('down');
    r = step(r.status, { outcome: 'pass', inMaintenance: false, blockedBy: null }, T);
    expect(r.transition).toMatchObject({ from: 'down', to: 'up' });
    expect(r.alert).toBe(true);
  });

  it('leaves a dependency block and a maintenance window with the state underneath', () => {
    let s: StateStatus = {
      ...INITIAL_STATUS,
      state: 'up',
      base: 'up',
      streaks: { ...NO_STREAKS, good: 5, notBad: 5 },
    };
    for (let i = 0; i < 3; i++)
      s = step(s, { outcome: 'fail', inMaintenance: false, blockedBy: 'db' }, T).status;
    expect(s).toMatchObject({ state: 'blocked', base: 'down', blockedBy: 'db' });
    // the dependency is back, this service still fails: down in its own right, at once
    const r = step(s, { outcome: 'fail', inMaintenance: false, blockedBy: null }, T);
    expect(r.transition).toMatchObject({ from: 'blocked', to: 'down' });
    expect(r.alert).toBe(true);
    const m = step(r.status, { outcome: 'fail', inMaintenance: true, blockedBy: null }, T);
    expect(m).toMatchObject({ status: { state: 'maintenance' }, alert: false });
  });

  it('detects flapping with hysteresis and stops alerting while it lasts', () => {
    const t = { failure: 1, success: 1 };
    let s = INITIAL_STATUS;
    const alerts: boolean[] = [];
    for (let i = 0; i < FLAP_WINDOW; i++) {
      const r = step(
        s,
        { outcome: i % 2 === 0 ? 'fail' : 'pass', inMaintenance: false, blockedBy: null },
        t,
      );
      alerts.push(r.alert);
      s = r.status;
    }
    expect(s.flapping).toBe(true);
    expect(alerts.slice(0, 3)).toEqual([true, true, true]);
    expect(alerts[alerts.length - 1]).toBe(false);
    // steady again: flapping clears only once the change rate is below the stop threshold
    let rounds = 0;
    while (s.flapping && rounds < 20) {
      s = step(s, { outcome: 'pass', inMaintenance: false, blockedBy: null }, t).status;
      rounds += 1;
    }
    expect(s.flapping).toBe(false);
    expect(rounds).toBeGreaterThan(3);
  });
});

describe('round outcome', () => {
  const result = (status: CheckResult['status'], critical = true, attempts = 1): CheckResult => ({
    service: 's',
    check: 'c',
    kind: 'http',
    critical,
    attempts,
    startedAt: 0,
    status,
    latencyMs: 1,
    message: '',
    evidence: { reasons: [] },
  });
  it('fails on a critical failure, degrades on the rest, notes retries, ignores unknowns', () => {
    expect(roundOutcome([result('pass'), result('fail')])).toBe('fail');
    expect(roundOutcome([result('pass'), result('fail', false)])).toBe('degraded');
    expect(roundOutcome([result('degraded')])).toBe('degraded');
    expect(roundOutcome([result('pass', true, 2)])).toBe('pass_after_retry');
    expect(roundOutcome([result('pass'), result('unknown')])).toBe('pass');
    expect(roundOutcome([result('unknown')])).toBeUndefined();
    expect(roundOutcome([])).toBeUndefined();
  });
});
