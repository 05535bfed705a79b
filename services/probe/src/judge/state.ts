/**
 * The per-service state machine, as data. Each probe round ends in one outcome; the outcome
 * and the streak counters pick the next state from `TRANSITIONS`. Maintenance and dependency
 * blocking are overlays on top of the table: monitoring goes on, alerting does not.
 */

export const SERVICE_STATES = [
  'pending',
  'up',
  'degraded',
  'down',
  'blocked',
  'maintenance',
] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

/** How one round of a service's checks went. */
export const ROUND_OUTCOMES = ['pass', 'pass_after_retry', 'degraded', 'fail'] as const;
export type RoundOutcome = (typeof ROUND_OUTCOMES)[number];

/** The three signals the table distinguishes (a pass after a retry is still a pass). */
export type Signal = 'good' | 'degraded' | 'bad';
export function signalOf(outcome: RoundOutcome): Signal {
  if (outcome === 'fail') return 'bad';
  if (outcome === 'degraded') return 'degraded';
  return 'good';
}

/** States the table is keyed by; `blocked` and `maintenance` are overlays. */
export type BaseState = 'pending' | 'up' | 'degraded' | 'down';

/**
 * `[next state when the streak reached its threshold, next state otherwise]`. The streak that
 * counts: for `bad`, consecutive failed rounds against the failure threshold; for `degraded`
 * from `up`, consecutive degraded-or-failed rounds against the failure threshold; for `good`
 * (and `degraded` from `down`), consecutive rounds at least that good against the success
 * threshold. `pending` takes the first good or degraded verdict at once.
 */
export const TRANSITIONS: Readonly<
  Record<BaseState, Readonly<Record<Signal, readonly [BaseState, BaseState]>>>
> = {
  pending: { good: ['up', 'up'], degraded: ['degraded', 'degraded'], bad: ['down', 'pending'] },
  up: { good: ['up', 'up'], degraded: ['degraded', 'up'], bad: ['down', 'up'] },
  degraded: {
    good: ['up', 'degraded'],
    degraded: ['degraded', 'degraded'],
    bad: ['down', 'degraded'],
  },
  down: { good: ['up', 'down'], degraded: ['degraded', 'down'], bad: ['down', 'down'] },
};

export interface Thresholds {
  failure: number;
  success: number;
}

/** Consecutive-round counters; each resets when a round breaks its run. */
export interface Streaks {
  /** Failed rounds. */
  bad: number;
  /** Degraded or failed rounds. */
  troubled: number;
  /** Good rounds. */
  good: number;
  /** Good or degraded rounds. */
  notBad: number;
}

export const NO_STREAKS: Streaks = { bad: 0, troubled: 0, good: 0, notBad: 0 };

export function nextStreaks(streaks: Streaks, signal: Signal): Streaks {
  return {
    bad: signal === 'bad' ? streaks.bad + 1 : 0,
    troubled: signal === 'good' ? 0 : streaks.troubled + 1,
    good: signal === 'good' ? streaks.good + 1 : 0,
    notBad: signal === 'bad' ? 0 : streaks.notBad + 1,
  };
}

/** Whether the streak that governs `state × signal` has reached its threshold. */
export function thresholdReached(
  state: BaseState,
  signal: Signal,
  streaks: Streaks,
  thresholds: Thresholds,
): boolean {
  switch (signal) {
    case 'bad':
      return streaks.bad >= thresholds.failure;
    case 'degraded':
      return state === 'down'
        ? streaks.notBad >= thresholds.success
        : state === 'degraded' || state === 'pending' || streaks.troubled >= thresholds.failure;
    case 'good':
      return state === 'pending' || state === 'up' || streaks.good >= thresholds.success;
  }
}

/** Flap detection over the last rounds, with hysteresis (as Nagios does). */
export const FLAP_WINDOW = 10;
export const FLAP_START = 0.4;
export const FLAP_STOP = 0.25;

export interface StateStatus {
  state: ServiceState;
  /** The table state underneath an overlay (what the service would be without it). */
  base: BaseState;
  streaks: Streaks;
  /** The down dependency this service is blocked by (the root of the chain). */
  blockedBy: string | null;
  flapping: boolean;
  /** Whether each of the last rounds changed the state (newest last), for flap detection. */
  changes: boolean[];
}

export const INITIAL_STATUS: StateStatus = {
  state: 'pending',
  base: 'pending',
  streaks: NO_STREAKS,
  blockedBy: null,
  flapping: false,
  changes: [],
};

export interface RoundInput {
  outcome: RoundOutcome;
  inMaintenance: boolean;
  /** Set when a dependency is down (or itself blocked); names the root cause. */
  blockedBy: string | null;
}

export interface StepResult {
  status: StateStatus;
  /** Present when the visible state changed. */
  transition?: { from: ServiceState; to: ServiceState; reason: string };
  /** Whether a human should hear of this change (not in maintenance, blocked or flapping). */
  alert: boolean;
}

function describe(input: RoundInput, to: ServiceState, streaks: Streaks, t: Thresholds): string {
  if (to === 'maintenance') return 'maintenance window';
  if (to === 'blocked') return `dependency ${input.blockedBy ?? '?'} is down`;
  switch (input.outcome) {
    case 'fail':
      return `${streaks.bad} failed round(s) (threshold ${t.failure})`;
    case 'degraded':
      return `${streaks.troubled} degraded round(s)`;
    case 'pass_after_retry':
      return 'passed after retry';
    case 'pass':
      return `${streaks.good} good round(s) (threshold ${t.success})`;
  }
}

/** One round: the outcome goes through the table, then the overlays, then flap detection. */
export function step(prev: StateStatus, input: RoundInput, thresholds: Thresholds): StepResult {
  const signal = signalOf(input.outcome);
  const streaks = nextStreaks(prev.streaks, signal);
  const from = prev.base;
  const [reached, otherwise] = TRANSITIONS[from][signal];
  const base = thresholdReached(from, signal, streaks, thresholds) ? reached : otherwise;

  let state: ServiceState = base;
  let blockedBy: string | null = null;
  if (input.inMaintenance) {
    state = 'maintenance';
  } else if (input.blockedBy !== null && signal === 'bad') {
    // Failing while a dependency is down: blocked by it, not down in its own right.
    state = 'blocked';
    blockedBy = input.blockedBy;
  }

  const changed = state !== prev.state;
  const changes = [...prev.changes, changed].slice(-FLAP_WINDOW);
  const rate = changes.filter(Boolean).length / FLAP_WINDOW;
  const flapping = prev.flapping ? rate >= FLAP_STOP : rate >= FLAP_START;
  const status: StateStatus = { state, base, streaks, blockedBy, flapping, changes };
  if (!changed) return { status, alert: false };
  const alert =
    (state === 'down' ||
      state === 'degraded' ||
      (state === 'up' && (prev.state === 'down' || prev.state === 'degraded'))) &&
    !flapping;
  return {
    status,
    transition: {
      from: prev.state,
      to: state,
      reason: describe(input, state, streaks, thresholds),
    },
    alert,
  };
}
