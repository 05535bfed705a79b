import { describe, expect, it } from 'vitest';
import {
  Scheduler,
  SchedulerError,
  type Lease,
  type ScheduledModel,
  type SchedulerEffects,
  type SchedulerOptions,
} from '../src/scheduler.ts';

/**
 * The scheduling rules on their own, through the effects interface: a recording backend whose
 * loads take a set time. (The router's end-to-end tests run real backend processes.)
 */

const model = (
  name: string,
  memoryGiB: number,
  extra: Partial<ScheduledModel> = {},
): ScheduledModel => ({
  name,
  device: 'gpu0',
  memoryGiB,
  sleepMemoryGiB: 0,
  sleeps: false,
  pinned: false,
  priority: 0,
  loadCostS: 1,
  loadTimeoutMs: 5000,
  maxConcurrent: 100,
  ...extra,
});

function recorder(loadMs = 20, perModel: Record<string, number> = {}) {
  const calls: string[] = [];
  const resident = new Set<string>();
  let peakConcurrentLoads = 0;
  let loading = 0;
  const effects: SchedulerEffects = {
    async load(name, signal) {
      calls.push(`load ${name}`);
      loading++;
      peakConcurrentLoads = Math.max(peakConcurrentLoads, loading);
      await new Promise<void>((resolve, reject) => {
        const ms =
          perModel[name] ??
          (name.startsWith('slow') ? 10_000 : name.startsWith('bad') ? 1 : loadMs);
        const t = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(new Error('aborted'));
        });
      });
      loading--;
      if (name.startsWith('bad')) throw new Error('exit code 1');
      resident.add(name);
    },
    async unload(name) {
      calls.push(`unload ${name}`);
      resident.delete(name);
      await new Promise((r) => setTimeout(r, 5));
    },
  };
  return { effects, calls, resident, peak: () => peakConcurrentLoads };
}

const options = (extra: Partial<SchedulerOptions> = {}): SchedulerOptions => ({
  devices: { gpu0: 10 },
  policy: 'affine',
  starvationMs: 200,
  maxQueuePerModel: 8,
  maxQueueTotal: 16,
  failureCooldownMs: 1000,
  ...extra,
});

async function use(s: Scheduler, name: string, holdMs = 0): Promise<Lease> {
  const lease = await s.acquire(name);
  if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
  lease.release();
  return lease;
}

describe('model router scheduling', () => {
  it('loads a missing model once for many concurrent requests (single flight)', async () => {
    const r = recorder(50);
    const s = new Scheduler(
      [model('a', 4)],
      r.effects,
      options({ maxQueuePerModel: 32, maxQueueTotal: 64 }),
    );
    const leases = await Promise.all(Array.from({ length: 20 }, () => s.acquire('a')));
    expect(r.calls).toEqual(['load a']);
    expect(s.status()[0]).toMatchObject({ state: 'resident', inFlight: 20, loads: 1 });
    leases.forEach((l) => l.release());
    expect(s.status()[0]?.inFlight).toBe(0);
  });

  it('evicts the least recently used, weighted by reload cost, to make room', async () => {
    // b took 50× longer to load than a (measured): losing it costs more
    const r = recorder(5, { a: 2, b: 100 });
    const s = new Scheduler(
      [model('a', 4), model('b', 4), model('c', 4)],
      r.effects,
      options({ devices: { gpu0: 8 } }),
    );
    await use(s, 'b'); // expensive to reload, used first (older)
    await new Promise((r2) => setTimeout(r2, 5));
    await use(s, 'a'); // cheap to reload, used last
    await use(s, 'c'); // needs room: a goes, although b is older, for b costs 60× more to reload
    expect(r.calls).toEqual(['load b', 'load a', 'unload a', 'load c']);
    expect(s.status().find((m) => m.name === 'a')).toMatchObject({
      state: 'unloaded',
      evictions: 1,
    });
  });

  it('never evicts a pinned model, and refuses at once a model that can never fit', async () => {
    const r = recorder(5);
    const s = new Scheduler(
      [model('pinned', 6, { pinned: true }), model('a', 4), model('huge', 5)],
      r.effects,
      options(),
    );
    await s.start();
    await use(s, 'a');
    const err = await s.acquire('huge').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchedulerError);
    expect(err).toMatchObject({ code: 'model_cannot_fit', status: 400 });
    expect((err as Error).message).toContain(
      'needs 5 GiB; device gpu0 has 10 GiB, 4 GiB of it not pinned',
    );
    expect(r.calls).toEqual(['load pinned', 'load a']);
    expect((await s.acquire('nope').catch((e: unknown) => e)) as SchedulerError).toMatchObject({
      status: 404,
    });
  });

  it('never evicts a model mid-request: the newcomer waits until it drains', async () => {
    const r = recorder(5);
    const s = new Scheduler(
      [model('a', 6), model('b', 6)],
      r.effects,
      options({ starvationMs: 0 }),
    );
    const busy = await s.acquire('a');
    const pending = s.acquire('b');
    await new Promise((r2) => setTimeout(r2, 50));
    expect(r.calls).toEqual(['load a']); // a is serving: not unloaded
    expect(s.status().find((m) => m.name === 'b')?.queued).toBe(1);
    busy.release();
    (await pending).release();
    expect(r.calls).toEqual(['load a', 'unload a', 'load b']);
  });

  it('bounds the queues: 429 with Retry-After beyond, and forgets requests whose client left', async () => {
    const r = recorder(100);
    const s = new Scheduler(
      [model('a', 4, { loadCostS: 7 })],
      r.effects,
      options({ maxQueuePerModel: 3 }),
    );
    const first = [s.acquire('a'), s.acquire('a'), s.acquire('a')];
    const err = (await s.acquire('a').catch((e: unknown) => e)) as SchedulerError;
    expect(err).toMatchObject({ code: 'queue_full', status: 429, retryAfterS: 7 });
    const controller = new AbortController();
    const s2 = new Scheduler([model('a', 4)], recorder(100).effects, options());
    const gone = s2.acquire('a', controller.signal);
    controller.abort();
    await expect(gone).rejects.toMatchObject({ code: 'aborted' });
    expect(s2.status()[0]?.queued).toBe(0);
    (await Promise.all(first)).forEach((l) => l.release());
  });

  it('fails the waiters of a load that fails, then cools down with 503', async () => {
    const r = recorder(5);
    const s = new Scheduler([model('bad', 4)], r.effects, options());
    await expect(s.acquire('bad')).rejects.toMatchObject({ code: 'load_failed', status: 502 });
    await expect(s.acquire('bad')).rejects.toMatchObject({ code: 'cooling_down', status: 503 });
  });

  it('gives up a load after its timeout with 504', async () => {
    const r = recorder(5);
    const s = new Scheduler([model('slow', 4, { loadTimeoutMs: 100 })], r.effects, options());
    await expect(s.acquire('slow')).rejects.toMatchObject({ code: 'load_timeout', status: 504 });
    expect(r.calls).toEqual(['load slow', 'unload slow']);
  });

  it('unloads an idle model after its TTL', async () => {
    const r = recorder(5);
    const s = new Scheduler([model('a', 4, { idleTtlMs: 50 })], r.effects, options());
    await use(s, 'a');
    await new Promise((r2) => setTimeout(r2, 120));
    expect(r.calls).toEqual(['load a', 'unload a']);
    expect(s.status()[0]?.state).toBe('unloaded');
  });

  it('parks a vllm-sleep model instead of unloading it, and counts its sleeping footprint', async () => {
    const r = recorder(5);
    const s = new Scheduler(
      [model('a', 6, { sleeps: true, sleepMemoryGiB: 1 }), model('b', 3), model('c', 4)],
      r.effects,
      options(),
    );
    await use(s, 'a');
    await use(s, 'b'); // 6 + 3 ≤ 10
    await use(s, 'c'); // needs 4: a (older) is parked, keeping 1 GiB: 1 + 3 + 4 ≤ 10
    expect(s.status().map((m) => [m.name, m.state])).toEqual([
      ['a', 'sleeping'],
      ['b', 'resident'],
      ['c', 'resident'],
    ]);
  });

  it('serves alternating traffic in batches (affine) with far fewer swaps than FIFO', async () => {
    const swaps = async (policy: 'affine' | 'fifo'): Promise<number> => {
      const s = new Scheduler(
        [model('a', 6), model('b', 6)],
        recorder(10).effects,
        options({ policy, starvationMs: 150, maxQueuePerModel: 100, maxQueueTotal: 200 }),
      );
      const requests: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        requests.push(use(s, i % 2 === 0 ? 'a' : 'b', 15));
        await new Promise((r2) => setTimeout(r2, 5));
      }
      await Promise.all(requests);
      return s.swaps;
    };
    const fifo = await swaps('fifo');
    const affine = await swaps('affine');
    expect(fifo).toBeGreaterThanOrEqual(15);
    expect(affine * 3).toBeLessThanOrEqual(fifo);
  }, 20_000);

  it('caps starvation: a waiting model gets its turn although the resident one stays busy', async () => {
    const s = new Scheduler(
      [model('a', 6), model('b', 6)],
      recorder(5).effects,
      options({ starvationMs: 100 }),
    );
    let stop = false;
    // a constant, overlapping stream for a: it is never idle
    const loop = async (offset: number) => {
      await new Promise((r2) => setTimeout(r2, offset));
      while (!stop) await use(s, 'a', 10);
    };
    const hog = Promise.all([loop(0), loop(5)]);
    await new Promise((r2) => setTimeout(r2, 30));
    const started = Date.now();
    await use(s, 'b');
    const waited = Date.now() - started;
    stop = true;
    await hog;
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(1000);
  });
});
