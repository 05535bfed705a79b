/**
 * Which models are resident, and who is served next: pure scheduling behind an effects
 * interface (load, unload), so it is tested without processes and reused by the router.
 *
 * - A model must be resident to serve. Loads are single-flight: concurrent requests for a
 *   missing model wait for one load.
 * - Memory is per device. Making room evicts by least-recently-used weighted by reload cost
 *   (idle time ÷ reload seconds, then priority); pinned models are never evicted, and a model
 *   serving requests is never evicted mid-request: it drains first.
 * - A model that can never fit (more than its device's budget minus the pinned models) fails
 *   at once.
 * - Requests waiting on a load queue up (bounded per model and in all). Policy `affine`
 *   serves the resident model's requests while another model waits, until the waiter's
 *   oldest request has waited `starvationMs`; then the resident model drains, is evicted,
 *   and the waiter's whole queue is served as one batch. Policy `fifo` switches as soon as
 *   the oldest request needs another model.
 */

export type ModelState = 'unloaded' | 'loading' | 'resident' | 'sleeping' | 'unloading';

export interface ScheduledModel {
  name: string;
  device: string;
  memoryGiB: number;
  /** Held while unloaded-by-sleep (vllm-sleep); 0 otherwise. */
  sleepMemoryGiB: number;
  /** Eviction parks it (sleep) instead of unloading it. */
  sleeps: boolean;
  /** Always resident: loaded at start, never evicted (pins and always-on URLs). */
  pinned: boolean;
  priority: number;
  /** Seconds a load is expected to take until one is measured. */
  loadCostS: number;
  loadTimeoutMs: number;
  idleTtlMs?: number;
  maxConcurrent: number;
}

export interface SchedulerEffects {
  /** Makes the model resident (start, wake); resolves when it serves. */
  load(model: string, signal: AbortSignal): Promise<void>;
  /** Frees its memory (stop, or sleep when `sleeps`). */
  unload(model: string): Promise<void>;
}

export interface SchedulerOptions {
  devices: Record<string, number>;
  policy: 'affine' | 'fifo';
  starvationMs: number;
  maxQueuePerModel: number;
  maxQueueTotal: number;
  failureCooldownMs: number;
  now?: () => number;
  /** Notified of loads, evictions and queue changes (metrics, logs). */
  observer?: SchedulerObserver;
}

export interface SchedulerObserver {
  loaded?(model: string, ms: number): void;
  loadFailed?(model: string, error: Error): void;
  evicted?(model: string, reason: 'memory' | 'idle', how: 'unload' | 'sleep'): void;
  queueChanged?(model: string, depth: number): void;
}

/** Why a request could not get its model; `status` is the HTTP answer. */
export class SchedulerError extends Error {
  override name = 'SchedulerError';
  constructor(
    readonly code:
      | 'model_not_found'
      | 'model_cannot_fit'
      | 'queue_full'
      | 'load_failed'
      | 'load_timeout'
      | 'cooling_down'
      | 'aborted'
      | 'shutting_down',
    message: string,
    readonly status: number,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface Lease {
  model: string;
  /** When the request was queued and when it got its model. */
  queuedMs: number;
  release(): void;
}

interface Waiter {
  at: number;
  resolve: (lease: Lease) => void;
  reject: (err: SchedulerError) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Runtime {
  spec: ScheduledModel;
  state: ModelState;
  inFlight: number;
  queue: Waiter[];
  lastUsed: number;
  draining: boolean;
  measuredLoadMs?: number;
  failedAt?: number;
  lastError?: string;
  loads: number;
  evictions: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

export interface ModelStatus {
  name: string;
  state: ModelState;
  inFlight: number;
  queued: number;
  loads: number;
  evictions: number;
  lastUsed?: number;
  lastError?: string;
}

export class Scheduler {
  readonly #models = new Map<string, Runtime>();
  readonly #options: SchedulerOptions;
  readonly #effects: SchedulerEffects;
  readonly #now: () => number;
  #queued = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Model switches (a load that needed an eviction). */
  swaps = 0;

  constructor(
    models: readonly ScheduledModel[],
    effects: SchedulerEffects,
    options: SchedulerOptions,
  ) {
    this.#options = options;
    this.#effects = effects;
    this.#now = options.now ?? Date.now;
    for (const spec of models) {
      this.#models.set(spec.name, {
        spec,
        state: 'unloaded',
        inFlight: 0,
        queue: [],
        lastUsed: 0,
        draining: false,
        loads: 0,
        evictions: 0,
      });
    }
  }

  /** Loads the pinned models; rejects when one cannot load. */
  async start(): Promise<void> {
    await Promise.all(
      [...this.#models.values()].filter((m) => m.spec.pinned).map((m) => this.#load(m)),
    );
    for (const m of this.#models.values()) {
      if (m.spec.pinned && m.state !== 'resident')
        throw new Error(
          `pinned model ${m.spec.name} did not load: ${m.lastError ?? 'unknown error'}`,
        );
    }
  }

  status(): ModelStatus[] {
    return [...this.#models.values()].map((m) => ({
      name: m.spec.name,
      state: m.state,
      inFlight: m.inFlight,
      queued: m.queue.length,
      loads: m.loads,
      evictions: m.evictions,
      ...(m.lastUsed === 0 ? {} : { lastUsed: m.lastUsed }),
      ...(m.lastError === undefined ? {} : { lastError: m.lastError }),
    }));
  }

  /** Waits until `model` is resident and may take one more request. */
  acquire(model: string, signal?: AbortSignal): Promise<Lease> {
    const m = this.#models.get(model);
    if (m === undefined)
      return Promise.reject(new SchedulerError('model_not_found', `no model "${model}"`, 404));
    if (this.#closed)
      return Promise.reject(
        new SchedulerError('shutting_down', 'the router is shutting down', 503, 5),
      );
    const room = this.#room(m.spec);
    if (m.spec.memoryGiB > room) {
      return Promise.reject(
        new SchedulerError(
          'model_cannot_fit',
          `model ${model} needs ${String(m.spec.memoryGiB)} GiB; device ${m.spec.device} has ${String(this.#options.devices[m.spec.device] ?? 0)} GiB, ${String(room)} GiB of it not pinned`,
          400,
        ),
      );
    }
    const now = this.#now();
    if (
      m.failedAt !== undefined &&
      now - m.failedAt < this.#options.failureCooldownMs &&
      m.state !== 'resident'
    ) {
      const retry = Math.ceil((this.#options.failureCooldownMs - (now - m.failedAt)) / 1000);
      return Promise.reject(
        new SchedulerError(
          'cooling_down',
          `model ${model} failed to load ${String(Math.round((now - m.failedAt) / 1000))} s ago: ${m.lastError ?? ''}`,
          503,
          retry,
        ),
      );
    }
    // served at once: resident, room for one more, nobody ahead of it
    if (
      m.state === 'resident' &&
      !m.draining &&
      m.queue.length === 0 &&
      m.inFlight < m.spec.maxConcurrent &&
      this.#mayDispatch(m, now)
    ) {
      return Promise.resolve(this.#grant(m, now));
    }
    if (
      m.queue.length >= this.#options.maxQueuePerModel ||
      this.#queued >= this.#options.maxQueueTotal
    ) {
      const which =
        m.queue.length >= this.#options.maxQueuePerModel
          ? `model ${model}'s queue (${String(this.#options.maxQueuePerModel)})`
          : `the router's queue (${String(this.#options.maxQueueTotal)})`;
      return Promise.reject(
        new SchedulerError(
          'queue_full',
          `${which} is full`,
          429,
          Math.max(1, Math.ceil(this.#expectedLoadMs(m) / 1000)),
        ),
      );
    }
    if (signal?.aborted === true)
      return Promise.reject(new SchedulerError('aborted', 'the client went away', 499));
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        at: now,
        resolve,
        reject,
        ...(signal === undefined ? {} : { signal }),
      };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const i = m.queue.indexOf(waiter);
          if (i >= 0) {
            m.queue.splice(i, 1);
            this.#queued--;
            this.#options.observer?.queueChanged?.(model, m.queue.length);
            reject(new SchedulerError('aborted', 'the client went away', 499));
            this.#pump();
          }
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      m.queue.push(waiter);
      this.#queued++;
      this.#options.observer?.queueChanged?.(model, m.queue.length);
      this.#pump();
    });
  }

  /**
   * The backend went away on its own (a crashed process): the model is no longer resident,
   * so the next request loads it again.
   */
  lost(model: string, reason: string): void {
    const m = this.#models.get(model);
    if (m === undefined || (m.state !== 'resident' && m.state !== 'sleeping')) return;
    m.state = 'unloaded';
    m.draining = false;
    m.lastError = reason;
    this.#pump();
  }

  /** Rejects every waiter and unloads every model (pinned too). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const m of this.#models.values()) {
      if (m.idleTimer !== undefined) clearTimeout(m.idleTimer);
      for (const w of m.queue.splice(0))
        this.#settle(w, new SchedulerError('shutting_down', 'the router is shutting down', 503, 5));
    }
    this.#queued = 0;
    await Promise.all(
      [...this.#models.values()]
        .filter((m) => m.state === 'resident')
        .map(async (m) => {
          m.state = 'unloading';
          await this.#effects.unload(m.spec.name).catch(() => undefined);
          m.state = 'unloaded';
        }),
    );
  }

  // --- internals -------------------------------------------------------------------------

  /** Memory of the model's device not held by pinned models (other than itself). */
  #room(spec: ScheduledModel): number {
    const budget = this.#options.devices[spec.device] ?? 0;
    let pinned = 0;
    for (const m of this.#models.values()) {
      if (m.spec.pinned && m.spec.device === spec.device && m.spec.name !== spec.name)
        pinned += m.spec.memoryGiB;
    }
    return budget - pinned;
  }

  #held(m: Runtime): number {
    if (m.state === 'resident' || m.state === 'loading' || m.state === 'unloading')
      return m.spec.memoryGiB;
    if (m.state === 'sleeping') return m.spec.sleepMemoryGiB;
    return 0;
  }

  #free(device: string): number {
    let used = 0;
    for (const m of this.#models.values()) if (m.spec.device === device) used += this.#held(m);
    return (this.#options.devices[device] ?? 0) - used;
  }

  #expectedLoadMs(m: Runtime): number {
    return m.measuredLoadMs ?? m.spec.loadCostS * 1000;
  }

  #grant(m: Runtime, now: number, queuedAt = now): Lease {
    m.inFlight++;
    m.lastUsed = now;
    if (m.idleTimer !== undefined) {
      clearTimeout(m.idleTimer);
      m.idleTimer = undefined;
    }
    let released = false;
    return {
      model: m.spec.name,
      queuedMs: now - queuedAt,
      release: () => {
        if (released) return;
        released = true;
        m.inFlight--;
        m.lastUsed = this.#now();
        this.#armIdle(m);
        this.#pump();
      },
    };
  }

  #armIdle(m: Runtime): void {
    const ttl = m.spec.idleTtlMs;
    if (
      ttl === undefined ||
      m.spec.pinned ||
      m.inFlight > 0 ||
      m.queue.length > 0 ||
      m.state !== 'resident'
    )
      return;
    if (m.idleTimer !== undefined) clearTimeout(m.idleTimer);
    m.idleTimer = setTimeout(() => {
      m.idleTimer = undefined;
      if (m.state === 'resident' && m.inFlight === 0 && m.queue.length === 0)
        void this.#evict(m, 'idle');
    }, ttl);
    m.idleTimer.unref();
  }

  #settle(w: Waiter, outcome: Lease | SchedulerError): void {
    if (w.signal !== undefined && w.onAbort !== undefined)
      w.signal.removeEventListener('abort', w.onAbort);
    if (outcome instanceof SchedulerError) w.reject(outcome);
    else w.resolve(outcome);
  }

  /** The oldest waiting request of a model that is not resident (or is draining). */
  #oldestWaiting(except?: Runtime): { m: Runtime; at: number } | undefined {
    let best: { m: Runtime; at: number } | undefined;
    for (const m of this.#models.values()) {
      if (m === except || m.queue.length === 0) continue;
      if (m.state === 'resident' && !m.draining) continue;
      const at = m.queue[0]?.at ?? Infinity;
      if (best === undefined || at < best.at) best = { m, at };
    }
    return best;
  }

  /**
   * Whether a resident model may take a request now. `fifo`: only when no request for
   * another model on its device arrived earlier; `affine`: unless it is draining.
   */
  #mayDispatch(m: Runtime, now: number, headAt = now): boolean {
    if (m.draining) return false;
    if (this.#options.policy === 'affine') return true;
    const waiting = this.#oldestWaiting(m);
    return (
      waiting === undefined ||
      waiting.m.spec.device !== m.spec.device ||
      waiting.at > headAt ||
      this.#fitsBeside(waiting.m)
    );
  }

  #fitsBeside(m: Runtime): boolean {
    return m.spec.memoryGiB - this.#held(m) <= this.#free(m.spec.device);
  }

  #pump(): void {
    if (this.#closed) return;
    const now = this.#now();
    // 1. serve what resident models may serve
    for (const m of this.#models.values()) {
      if (m.state !== 'resident') continue;
      while (
        m.queue.length > 0 &&
        m.inFlight < m.spec.maxConcurrent &&
        this.#mayDispatch(m, now, m.queue[0]?.at)
      ) {
        const w = m.queue.shift() as Waiter;
        this.#queued--;
        this.#settle(w, this.#grant(m, now, w.at));
      }
      this.#options.observer?.queueChanged?.(m.spec.name, m.queue.length);
    }
    // 2. make the longest-waiting model resident, by device
    const devices = new Set([...this.#models.values()].map((m) => m.spec.device));
    let nextDeadline: number | undefined;
    for (const device of devices) {
      const target = this.#nextTarget(device);
      if (target === undefined) continue;
      const need = target.spec.memoryGiB - this.#held(target);
      if (need <= this.#free(device)) {
        void this.#load(target);
        continue;
      }
      const victims = this.#victims(target, need);
      if (victims === undefined) continue; // what is evictable is busy loading/unloading: wait
      const oldest = target.queue[0]?.at ?? now;
      const idle = victims.every((v) => v.inFlight === 0 && v.queue.length === 0);
      const starved = now - oldest >= this.#options.starvationMs;
      if (this.#options.policy === 'fifo' || idle || starved) {
        for (const v of victims) {
          v.draining = true;
          if (v.inFlight === 0) void this.#evict(v, 'memory');
        }
      } else {
        const at = oldest + this.#options.starvationMs;
        nextDeadline = nextDeadline === undefined ? at : Math.min(nextDeadline, at);
      }
    }
    if (nextDeadline !== undefined) this.#wakeAt(nextDeadline);
  }

  /** The model on `device` whose oldest request has waited longest and is not yet loading. */
  #nextTarget(device: string): Runtime | undefined {
    let best: Runtime | undefined;
    for (const m of this.#models.values()) {
      if (m.spec.device !== device || m.queue.length === 0) continue;
      if (m.state !== 'unloaded' && m.state !== 'sleeping') continue;
      if (best === undefined || (m.queue[0]?.at ?? Infinity) < (best.queue[0]?.at ?? Infinity))
        best = m;
    }
    // while anything on the device is loading or unloading, memory is in motion: decide after
    for (const m of this.#models.values()) {
      if (m.spec.device === device && (m.state === 'loading' || m.state === 'unloading')) {
        if (best !== undefined && best.spec.memoryGiB - this.#held(best) <= this.#free(device))
          return best;
        return undefined;
      }
    }
    return best;
  }

  /** Residents to evict for `need` GiB: cheapest to lose first; undefined when impossible now. */
  #victims(target: Runtime, need: number): Runtime[] | undefined {
    const now = this.#now();
    const candidates = [...this.#models.values()]
      .filter(
        (m) =>
          m !== target &&
          m.spec.device === target.spec.device &&
          !m.spec.pinned &&
          m.state === 'resident',
      )
      .map((m) => ({
        m,
        // idle time per second of reload: the model we lose least by evicting first
        score:
          (now - m.lastUsed + 1) /
          Math.max(0.001, this.#expectedLoadMs(m) / 1000) /
          (1 + Math.max(0, m.spec.priority)),
        busy: m.inFlight > 0 || m.queue.length > 0 ? 1 : 0,
      }))
      .sort((a, b) => a.busy - b.busy || b.score - a.score);
    const chosen: Runtime[] = [];
    let freed = this.#free(target.spec.device);
    for (const c of candidates) {
      if (freed >= need) break;
      chosen.push(c.m);
      freed += this.#held(c.m) - (c.m.spec.sleeps ? c.m.spec.sleepMemoryGiB : 0);
    }
    return freed >= need ? chosen : undefined;
  }

  #wakeAt(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#pump();
      },
      Math.max(0, at - this.#now()) + 1,
    );
    this.#timer.unref();
  }

  async #load(m: Runtime): Promise<void> {
    if (m.state === 'loading' || m.state === 'resident') return;
    m.state = 'loading';
    const started = this.#now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), m.spec.loadTimeoutMs);
    try {
      await this.#effects.load(m.spec.name, controller.signal);
      if (controller.signal.aborted) throw new Error('load timed out');
      const ms = this.#now() - started;
      m.measuredLoadMs = ms;
      m.state = 'resident';
      m.draining = false;
      m.loads++;
      m.failedAt = undefined;
      m.lastError = undefined;
      m.lastUsed = this.#now();
      this.#options.observer?.loaded?.(m.spec.name, ms);
    } catch (err) {
      const timedOut = controller.signal.aborted;
      m.state = 'unloaded';
      m.failedAt = this.#now();
      m.lastError = timedOut
        ? `no answer within ${String(m.spec.loadTimeoutMs / 1000)} s`
        : (err as Error).message;
      this.#options.observer?.loadFailed?.(m.spec.name, err as Error);
      const error = timedOut
        ? new SchedulerError(
            'load_timeout',
            `model ${m.spec.name} did not load within ${String(m.spec.loadTimeoutMs / 1000)} s`,
            504,
          )
        : new SchedulerError(
            'load_failed',
            `model ${m.spec.name} failed to load: ${m.lastError}`,
            502,
          );
      for (const w of m.queue.splice(0)) {
        this.#queued--;
        this.#settle(w, error);
      }
      this.#options.observer?.queueChanged?.(m.spec.name, 0);
      if (timedOut) await this.#effects.unload(m.spec.name).catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
    this.#pump();
  }

  async #evict(m: Runtime, reason: 'memory' | 'idle'): Promise<void> {
    if (m.state !== 'resident') return;
    m.state = 'unloading';
    try {
      await this.#effects.unload(m.spec.name);
    } catch (err) {
      m.lastError = `unload failed: ${(err as Error).message}`;
    }
    m.state = m.spec.sleeps ? 'sleeping' : 'unloaded';
    m.draining = false;
    m.evictions++;
    if (reason === 'memory') this.swaps++;
    this.#options.observer?.evicted?.(m.spec.name, reason, m.spec.sleeps ? 'sleep' : 'unload');
    this.#pump();
  }
}
