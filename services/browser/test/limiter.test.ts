import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, QueueFullError, type Release } from '../src/runtime/limiter.ts';

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('ConcurrencyLimiter', () => {
  it('grants up to maxConcurrency slots at once and queues the rest', async () => {
    const limiter = new ConcurrencyLimiter(2, 5);
    const a = await limiter.acquire();
    await limiter.acquire();
    let third: Release | undefined;
    void limiter.acquire().then((release) => (third = release));
    await settled();
    expect(third).toBeUndefined();
    expect({ running: limiter.running, queued: limiter.queued }).toEqual({ running: 2, queued: 1 });
    a();
    await settled();
    expect(third).toBeTypeOf('function');
    expect({ running: limiter.running, queued: limiter.queued }).toEqual({ running: 2, queued: 0 });
  });

  it('serves waiters first in, first out', async () => {
    const limiter = new ConcurrencyLimiter(1, 10);
    const first = await limiter.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      limiter.acquire().then((release) => {
        order.push(n);
        release();
      }),
    );
    first();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(limiter.running).toBe(0);
  });

  it('rejects at once with QueueFullError when maxQueue requests already wait', async () => {
    const limiter = new ConcurrencyLimiter(1, 1);
    await limiter.acquire();
    const waiting = limiter.acquire();
    await expect(limiter.acquire()).rejects.toBeInstanceOf(QueueFullError);
    expect(limiter.queued).toBe(1);
    void waiting;
  });

  it('with maxQueue 0 never queues', async () => {
    const limiter = new ConcurrencyLimiter(1, 0);
    await limiter.acquire();
    await expect(limiter.acquire()).rejects.toThrow(/queue is full/);
  });

  it('drops a waiter whose signal aborts, so it never takes a slot', async () => {
    const limiter = new ConcurrencyLimiter(1, 3);
    const holder = await limiter.acquire();
    const controller = new AbortController();
    const gone = limiter.acquire(controller.signal);
    let nextGranted = false;
    const next = limiter.acquire().then((release) => {
      nextGranted = true;
      return release;
    });
    controller.abort(new Error('client left'));
    await expect(gone).rejects.toThrow('client left');
    expect(limiter.queued).toBe(1);
    holder();
    (await next)();
    expect(nextGranted).toBe(true);
    expect(limiter.running).toBe(0);
  });

  it('refuses an already aborted signal without queueing', async () => {
    const limiter = new ConcurrencyLimiter(1, 3);
    await limiter.acquire();
    await expect(limiter.acquire(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    expect(limiter.queued).toBe(0);
  });

  it('ignores a second release of the same slot', async () => {
    const limiter = new ConcurrencyLimiter(2, 0);
    const release = await limiter.acquire();
    await limiter.acquire();
    release();
    release();
    expect(limiter.running).toBe(1);
  });

  it('rejects nonsensical limits at construction', () => {
    expect(() => new ConcurrencyLimiter(0, 1)).toThrow(/maxConcurrency/);
    expect(() => new ConcurrencyLimiter(1, -1)).toThrow(/maxQueue/);
  });
});
