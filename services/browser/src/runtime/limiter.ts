/**
 * Bounded concurrency with a bounded FIFO queue. Pure: no timers, no I/O; the caller decides
 * what a full queue means (429) and passes its own abort signal (client disconnect).
 */

export class QueueFullError extends Error {
  constructor(readonly maxQueue: number) {
    super(`the queue is full (${maxQueue} waiting)`);
    this.name = 'QueueFullError';
  }
}

/** Returned by `acquire`; gives the slot back. Calling it more than once is harmless. */
export type Release = () => void;

interface Waiter {
  grant: () => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class ConcurrencyLimiter {
  readonly #waiting: Waiter[] = [];
  #running = 0;

  constructor(
    readonly maxConcurrency: number,
    readonly maxQueue: number,
  ) {
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new Error(`maxConcurrency must be a positive integer, got ${maxConcurrency}`);
    }
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new Error(`maxQueue must be a non-negative integer, got ${maxQueue}`);
    }
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves with a release function once a slot is free, first come first served. Rejects at
   * once with `QueueFullError` when `maxQueue` requests already wait, and with the signal's
   * reason when it aborts while waiting (the request leaves the queue).
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    if (this.#running < this.maxConcurrency && this.#waiting.length === 0) {
      this.#running++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.maxQueue) {
      return Promise.reject(new QueueFullError(this.maxQueue));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => resolve(this.#releaser()),
        signal,
        onAbort: undefined,
      };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiting.push(waiter);
    });
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#next();
    };
  }

  #next(): void {
    while (this.#running < this.maxConcurrency) {
      const waiter = this.#waiting.shift();
      if (waiter === undefined) return;
      if (waiter.onAbort !== undefined) {
        waiter.signal?.removeEventListener('abort', waiter.onAbort);
      }
      this.#running++;
      waiter.grant();
    }
  }
}
