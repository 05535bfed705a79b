import type { Logger } from '@datamancy/core';
import type { Orchestrator } from './orchestrator.ts';

export interface SchedulerOptions {
  /** Random spread of each interval (0.1 = ±10 %), so rounds do not line up. */
  jitter: number;
  /** After a start, every service's first round falls within this window. */
  startupSpreadS: number;
  logger: Logger;
  random?: () => number;
}

/**
 * Runs every service's rounds on its own interval. After a (re)start every service has its
 * first round within `startupSpreadS`. Each next round is scheduled from the end of the
 * previous one (interval ± jitter), so a slow service never piles up rounds.
 */
export class Scheduler {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #random: () => number;
  #stopped = true;
  #inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly orchestrator: Orchestrator,
    private readonly options: SchedulerOptions,
  ) {
    this.#random = options.random ?? Math.random;
  }

  start(): void {
    this.#stopped = false;
    // Every service gets a fresh round soon after a (re)start, spread so they do not all
    // fire at once: states saved before a restart are confirmed, not trusted for a full interval.
    for (const spec of this.orchestrator.services) {
      this.#schedule(spec.name, this.#random() * this.options.startupSpreadS * 1000);
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
