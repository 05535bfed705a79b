import type { Logger } from '@datamancy/core';
import { runCheck, type AttemptRunner, type ScheduledCheck } from '../checks/run.ts';
import type { CheckResult } from '../checks/types.ts';
import { inManifestWindow } from '../judge/maintenance.ts';
import { roundOutcome } from '../judge/round.ts';
import {
  INITIAL_STATUS,
  step,
  type RoundOutcome,
  type ServiceState,
  type StateStatus,
} from '../judge/state.ts';
import type { CheckKind, Manifest, ServiceSpec } from '../manifest/schema.ts';
import type { MaintenanceRecord, ProbeRepository, RoundRecord } from '../store/repo.ts';
import { Semaphore } from './semaphore.ts';

export type Trigger = RoundRecord['trigger'];

/** Limits on checks running at once: all kinds together and per kind. */
export interface Limits {
  global: number;
  perKind: Record<CheckKind, number>;
}

/** An optional second opinion on a failing round (the LLM investigator); never acts. */
export type Investigate = (input: {
  service: ServiceSpec;
  outcome: RoundOutcome;
  results: readonly CheckResult[];
  signal: AbortSignal;
}) => Promise<unknown>;

export interface ServiceView {
  name: string;
  description?: string | undefined;
  group?: string | undefined;
  container?: string | undefined;
  state: ServiceState;
  since: number;
  blockedBy: string | null;
  flapping: boolean;
  inMaintenance: boolean;
  lastRoundAt: number | null;
  lastOutcome: RoundOutcome | null;
  intervalS: number;
  dependsOn: string[];
  checks: CheckResult[];
}

export interface RoundReport extends ServiceView {
  outcome: RoundOutcome | null;
  transition?: { from: ServiceState; to: ServiceState; reason: string };
  alert: boolean;
  llmVerdict?: unknown;
}

/** One finished round, for sparklines. */
export interface RecentRound {
  at: number;
  latencyMs: number;
  outcome: RoundOutcome;
}

/** Longest an LLM investigation may hold up a round's record. */
export const INVESTIGATION_TIMEOUT_MS = 120_000;

/** Rounds kept in memory per service for the dashboard's sparklines. */
export const RECENT_ROUNDS = 40;

interface Live {
  spec: ServiceSpec;
  status: StateStatus;
  since: number;
  lastRoundAt: number | null;
  lastOutcome: RoundOutcome | null;
  /** Latest result of each check (checks with their own interval carry over between rounds). */
  last: Map<string, CheckResult>;
  recent: RecentRound[];
  /** The round in progress, so concurrent triggers share it. */
  running?: Promise<RoundReport>;
}

export interface OrchestratorOptions {
  repo: ProbeRepository;
  runAttempt: AttemptRunner;
  limits: Limits;
  logger: Logger;
  investigate?: Investigate | undefined;
  now?: () => number;
  /** Called after each judged round (metrics, the next issue's incidents). */
  onRound?: (report: RoundReport) => void;
}

/** Dependencies before dependents (the manifest has no cycles: expandManifest checks). */
export function topologicalOrder(services: readonly ServiceSpec[]): string[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const order: string[] = [];
  const visit = (name: string): void => {
    if (done.has(name)) return;
    done.add(name);
    for (const dep of byName.get(name)?.dependsOn ?? []) visit(dep);
    order.push(name);
  };
  for (const s of services) visit(s.name);
  return order;
}

/**
 * Runs services' checks under the concurrency limits, judges each round (state machine,
 * maintenance, dependency blocking) and queues everything for the store.
 */
export class Orchestrator {
  readonly #live = new Map<string, Live>();
  #order: string[] = [];
  #maintenance: MaintenanceRecord[] = [];
  readonly #global: Semaphore;
  readonly #perKind: Record<CheckKind, Semaphore>;
  readonly #now: () => number;

  constructor(private readonly options: OrchestratorOptions) {
    this.#global = new Semaphore(options.limits.global);
    this.#perKind = {
      http: new Semaphore(options.limits.perKind.http),
      tcp: new Semaphore(options.limits.perKind.tcp),
      browser: new Semaphore(options.limits.perKind.browser),
      container: new Semaphore(options.limits.perKind.container),
      ai: new Semaphore(options.limits.perKind.ai),
    };
    this.#now = options.now ?? Date.now;
  }

  /** Loads the saved states and the maintenance windows, then takes the manifest. */
  async init(manifest: Manifest): Promise<void> {
    const saved = new Map((await this.options.repo.loadStates()).map((s) => [s.service, s]));
    this.#maintenance = await this.options.repo.maintenance(this.#now());
    this.setManifest(manifest, saved);
    for (const name of this.#order) {
      const live = this.#live.get(name);
      if (live === undefined) continue;
      for (const result of await this.options.repo.latestResults(name))
        live.last.set(result.check, result);
      const rounds = await this.options.repo.rounds(name, RECENT_ROUNDS);
      live.recent = rounds
        .reverse()
        .map((r) => ({ at: r.startedAt, latencyMs: r.latencyMs, outcome: r.outcome }));
    }
  }

  /** Replaces the service list, keeping the state of services that remain. */
  setManifest(
    manifest: Manifest,
    saved?: Map<
      string,
      {
        status: StateStatus;
        since: number;
        lastRoundAt: number | null;
        lastOutcome: RoundOutcome | null;
      }
    >,
  ): void {
    const next = new Map<string, Live>();
    for (const spec of manifest.services) {
      const existing = this.#live.get(spec.name);
      const stored = saved?.get(spec.name);
      next.set(spec.name, {
        spec,
        status: existing?.status ?? stored?.status ?? INITIAL_STATUS,
        since: existing?.since ?? stored?.since ?? this.#now(),
        lastRoundAt: existing?.lastRoundAt ?? stored?.lastRoundAt ?? null,
        lastOutcome: existing?.lastOutcome ?? stored?.lastOutcome ?? null,
        last: existing?.last ?? new Map<string, CheckResult>(),
        recent: existing?.recent ?? [],
      });
    }
    this.#live.clear();
    for (const [name, live] of next) this.#live.set(name, live);
    this.#order = topologicalOrder(manifest.services);
  }

  get services(): ServiceSpec[] {
    return this.#order
      .map((name) => this.#live.get(name)?.spec)
      .filter((s): s is ServiceSpec => s !== undefined);
  }

  has(name: string): boolean {
    return this.#live.has(name);
  }

  async refreshMaintenance(): Promise<void> {
    this.#maintenance = await this.options.repo.maintenance(this.#now());
  }

  inMaintenance(spec: ServiceSpec, now = this.#now()): boolean {
    return (
      spec.maintenance.some((w) => inManifestWindow(w, now)) ||
      this.#maintenance.some(
        (m) =>
          (m.service === spec.name || m.service === '*') && now >= m.startsAt && now < m.endsAt,
      )
    );
  }

  /** The root cause a service is blocked by: a dependency that is down, or what blocks it. */
  blockedBy(spec: ServiceSpec): string | null {
    for (const dep of spec.dependsOn) {
      const live = this.#live.get(dep);
      if (live === undefined) continue;
      if (live.status.state === 'down') return dep;
      if (live.status.state === 'blocked' && live.status.blockedBy !== null)
        return live.status.blockedBy;
    }
    return null;
  }

  recent(name: string): readonly RecentRound[] {
    return this.#live.get(name)?.recent ?? [];
  }

  view(name: string): ServiceView | undefined {
    const live = this.#live.get(name);
    return live === undefined ? undefined : this.#view(live);
  }

  views(): ServiceView[] {
    return this.#order
      .map((name) => this.view(name))
      .filter((v): v is ServiceView => v !== undefined);
  }

  #view(live: Live): ServiceView {
    const { spec } = live;
    return {
      name: spec.name,
      description: spec.description,
      group: spec.group,
      container: spec.container,
      state: live.status.state,
      since: live.since,
      blockedBy: live.status.blockedBy,
      flapping: live.status.flapping,
      inMaintenance: this.inMaintenance(spec),
      lastRoundAt: live.lastRoundAt,
      lastOutcome: live.lastOutcome,
      intervalS: spec.intervalS,
      dependsOn: spec.dependsOn,
      checks: spec.checks
        .map((c) => live.last.get(c.name))
        .filter((r): r is CheckResult => r !== undefined),
    };
  }

  async #runOne(
    service: string,
    check: ScheduledCheck,
    signal?: AbortSignal,
  ): Promise<CheckResult> {
    const release = await this.#perKind[check.kind].acquire();
    try {
      return await this.#global.run(() =>
        runCheck(this.options.runAttempt, service, check, signal),
      );
    } finally {
      release();
    }
  }

  /** The checks due in this round: all of them, except on schedule those with a longer interval not yet due. */
  #due(live: Live, trigger: Trigger, now: number): ScheduledCheck[] {
    return live.spec.checks.filter((check) => {
      if (trigger !== 'schedule' || check.intervalS === undefined) return true;
      const last = live.last.get(check.name);
      // A little slack so a check due "at" this round is not pushed to the next one.
      return (
        last === undefined ||
        now - last.startedAt >= check.intervalS * 1000 - live.spec.intervalS * 500
      );
    });
  }

  async #runChecks(live: Live, trigger: Trigger, signal?: AbortSignal): Promise<CheckResult[]> {
    const due = this.#due(live, trigger, this.#now());
    return Promise.all(due.map((check) => this.#runOne(live.spec.name, check, signal)));
  }

  /** Judges a round whose fresh results are in, updates the state and queues the writes. */
  async #judge(
    live: Live,
    fresh: CheckResult[],
    trigger: Trigger,
    startedAt: number,
    signal?: AbortSignal,
  ): Promise<RoundReport> {
    for (const r of fresh) live.last.set(r.check, r);
    const { spec } = live;
    const current = spec.checks
      .map((c) => live.last.get(c.name))
      .filter((r): r is CheckResult => r !== undefined);
    const outcome = roundOutcome(current) ?? null;
    const now = this.#now();
    const latencyMs = fresh.reduce((max, r) => Math.max(max, r.latencyMs), 0);
    let transition: RoundReport['transition'];
    let alert = false;
    let llmVerdict: unknown;
    if (outcome !== null) {
      const stepped = step(
        live.status,
        { outcome, inMaintenance: this.inMaintenance(spec, now), blockedBy: this.blockedBy(spec) },
        spec.thresholds,
      );
      live.status = stepped.status;
      live.lastOutcome = outcome;
      live.recent.push({ at: startedAt, latencyMs, outcome });
      if (live.recent.length > RECENT_ROUNDS) live.recent.shift();
      transition = stepped.transition;
      alert = stepped.alert;
      if (transition !== undefined) live.since = now;
      if (
        (outcome === 'fail' || outcome === 'degraded') &&
        this.options.investigate !== undefined &&
        signal?.aborted !== true
      ) {
        llmVerdict = await this.options
          .investigate({
            service: spec,
            outcome,
            results: current,
            // The investigation may take a while, not forever.
            signal: AbortSignal.any([
              ...(signal === undefined ? [] : [signal]),
              AbortSignal.timeout(INVESTIGATION_TIMEOUT_MS),
            ]),
          })
          .catch((err: unknown) => ({ error: (err as Error).message }));
      }
    }
    live.lastRoundAt = now;
    this.options.repo.enqueue({
      results: fresh,
      ...(outcome === null
        ? {}
        : {
            round: {
              service: spec.name,
              startedAt,
              outcome,
              state: live.status.state,
              latencyMs,
              trigger,
              ...(llmVerdict === undefined ? {} : { llmVerdict }),
            },
          }),
      ...(transition === undefined
        ? {}
        : {
            transition: {
              service: spec.name,
              at: now,
              from: transition.from,
              to: transition.to,
              reason: transition.reason,
              alert,
              blockedBy: live.status.blockedBy,
            },
          }),
      state: {
        service: spec.name,
        status: live.status,
        since: live.since,
        lastRoundAt: live.lastRoundAt,
        lastOutcome: live.lastOutcome,
      },
    });
    if (transition !== undefined) {
      this.options.logger[alert ? 'warn' : 'info'](
        { service: spec.name, from: transition.from, to: transition.to, reason: transition.reason },
        `${spec.name}: ${transition.from} → ${transition.to}`,
      );
    }
    const report: RoundReport = {
      ...this.#view(live),
      outcome,
      alert,
      ...(transition === undefined ? {} : { transition }),
      ...(llmVerdict === undefined ? {} : { llmVerdict }),
    };
    this.options.onRound?.(report);
    return report;
  }

  /** One round of one service now; a round already running is shared, not doubled. */
  probeService(name: string, trigger: Trigger, signal?: AbortSignal): Promise<RoundReport> {
    const live = this.#live.get(name);
    if (live === undefined) return Promise.reject(new Error(`unknown service ${name}`));
    if (live.running !== undefined) return live.running;
    const startedAt = this.#now();
    const round = this.#runChecks(live, trigger, signal)
      .then((fresh) => this.#judge(live, fresh, trigger, startedAt, signal))
      .finally(() => {
        live.running = undefined;
      });
    live.running = round;
    return round;
  }

  /**
   * Every service (or the named ones) at once: all checks run concurrently, then rounds are
   * judged dependencies first, so a dependent sees its dependency's fresh state.
   */
  async probeStack(names?: readonly string[], signal?: AbortSignal): Promise<RoundReport[]> {
    const wanted = names === undefined ? this.#order : this.#order.filter((n) => names.includes(n));
    const startedAt = this.#now();
    const runs = new Map<string, Promise<CheckResult[]> | Promise<RoundReport>>();
    for (const name of wanted) {
      const live = this.#live.get(name);
      if (live === undefined) continue;
      runs.set(name, live.running ?? this.#runChecks(live, 'stack', signal));
    }
    const reports: RoundReport[] = [];
    for (const name of wanted) {
      const live = this.#live.get(name);
      const run = runs.get(name);
      if (live === undefined || run === undefined) continue;
      const value = await run;
      reports.push(
        Array.isArray(value) ? await this.#judge(live, value, 'stack', startedAt, signal) : value,
      );
    }
    return reports;
  }

  /** Checks running and waiting, per kind (for /metrics and the dashboard). */
  pressure(): {
    running: number;
    waiting: number;
    byKind: Record<CheckKind, { running: number; waiting: number }>;
  } {
    const byKind = Object.fromEntries(
      Object.entries(this.#perKind).map(([kind, s]) => [
        kind,
        { running: s.held, waiting: s.waiting },
      ]),
    ) as Record<CheckKind, { running: number; waiting: number }>;
    return { running: this.#global.held, waiting: this.#global.waiting, byKind };
  }
}
