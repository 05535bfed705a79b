import type { Logger } from '@datamancy/core';
import type { Orchestrator } from './orchestrator.ts';

export interface SchedulerOptions {
  /** Random spread of each interval (0.1 = ±10 %), so rounds do not line up. */
  jitter: number;
  /** Services whose last round is older than their interval start within this window. */
  startupSpreadS: number;
  logger: Logger;
  random?: () => number;
  now?: () => number;
}

/**
 * Runs every service's rounds on its own interval. After a (re)start, a service that is due
 * (or never ran) starts within `startupSpreadS`; one checked recently waits out the rest of
 * its interval. Each round is scheduled from the end of the previous one, so a slow service
 * never piles up rounds.
 */
export class Scheduler {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #random: () => number;
  readonly #now: () => number;
  #stopped = true;
  #inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly orchestrator: Orchestrator,
    private readonly options: SchedulerOptions,
  ) {
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#stopped = false;
    const now = this.#now();
    for (const spec of this.orchestrator.services) {
      const last = this.orchestrator.lastRoundAt(spec.name);
      const dueIn = last === null ? 0 : last + spec.intervalS * 1000 - now;
      const spread = this.#random() * this.options.startupSpreadS * 1000;
      this.#schedule(
        spec.name,
        dueIn <= 0 ? spread : Math.min(dueIn, spec.intervalS * 1000) + spread / 10,
      );
    }
  }

  /** Re-reads the service list (after a manifest change): new services start, removed ones stop. */
  sync(): void {
    if (this.#stopped) return;
    const names = new Set(this.orchestrator.services.map((s) => s.name));
    for (const [name, timer] of this.#timers) {
      if (!names.has(name)) {
        clearTimeout(timer);
        this.#timers.delete(name);
      }
    }
    for (const name of names) {
      if (!this.#timers.has(name))
        this.#schedule(name, this.#random() * this.options.startupSpreadS * 1000);
    }
  }

  /** Pushes a service's next scheduled round a full interval out (after an on-demand round). */
  postpone(name: string): void {
    const spec = this.orchestrator.services.find((s) => s.name === name);
    if (spec !== undefined && this.#timers.has(name))
      this.#schedule(name, this.#interval(spec.intervalS));
  }

  #interval(intervalS: number): number {
    const spread = (this.#random() * 2 - 1) * this.options.jitter;
    return Math.max(100, intervalS * 1000 * (1 + spread));
  }

  #schedule(name: string, delayMs: number): void {
    clearTimeout(this.#timers.get(name));
    const timer = setTimeout(() => void this.#fire(name), Math.max(0, delayMs));
    timer.unref();
    this.#timers.set(name, timer);
  }

  async #fire(name: string): Promise<void> {
    this.#timers.delete(name);
    if (this.#stopped || !this.orchestrator.has(name)) return;
    const round = this.orchestrator.probeService(name, 'schedule');
    this.#inFlight.add(round);
    try {
      await round;
    } catch (err) {
      this.options.logger.error({ err, service: name }, 'probe round failed');
    } finally {
      this.#inFlight.delete(round);
    }
    const spec = this.orchestrator.services.find((s) => s.name === name);
    if (!this.#stopped && spec !== undefined && !this.#timers.has(name)) {
      this.#schedule(name, this.#interval(spec.intervalS));
    }
  }

  /** Stops scheduling and waits for the rounds in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#inFlight]);
  }
}
