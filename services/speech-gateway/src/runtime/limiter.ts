import { AppError } from '@datamancy/core';
import { clientGone } from '../errors.ts';

/**
 * Bounds the backend jobs running at once (a recogniser takes a core each); the rest wait in a
 * FIFO queue, and beyond the queue the answer is 429 with Retry-After.
 */
export class JobLimiter {
  readonly maxConcurrency: number;
  readonly maxQueue: number;
  #running = 0;
  readonly #waiting: { start: () => void }[] = [];

  constructor(maxConcurrency: number, maxQueue: number) {
    this.maxConcurrency = maxConcurrency;
    this.maxQueue = maxQueue;
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    if (this.#running < this.maxConcurrency) {
      this.#running++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxQueue) {
      return Promise.reject(
        new AppError('RATE_LIMITED', 'too many speech jobs waiting; retry shortly', {
          retryAfterS: 1,
          data: { running: this.#running, queued: this.#waiting.length },
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const index = this.#waiting.indexOf(entry);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(clientGone(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#running--;
    else next.start(); // the slot passes straight on
  }
}
