import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, testEngines, type EngineFixture } from '@datamancy/testkit';
import { planMemoryUpdate } from '../src/plugins/host/memory-tool.ts';
import { createTestToolServer, postJson, READER, TEXT_ONLY, WRITER } from './helpers.ts';

const MIB = 1024 * 1024;
type App = Awaited<ReturnType<typeof createTestToolServer>>['app'];

interface Reply {
  status: number;
  body: {
    result: Record<string, unknown>;
    error?: { code: string; message: string; issues?: { path: string; message: string }[] };
  };
}

async function callTool(
  app: App,
  token: string,
  name: string,
  args: Record<string, unknown>,
): Promise<Reply> {
  const res = await app.request('/call-tool', postJson(token, { name, args }));
  return { status: res.status, body: (await res.json()) as Reply['body'] };
}

describe.each(testEngines())('against %s', (kind) => {
  let fixture: EngineFixture;
  let app: App;
  const call = (token: string, name: string, args: Record<string, unknown>) =>
    callTool(app, token, name, args);

  /** Waits until the container has exited and the events after its exit (~0.2 s) are written. */
  async function settled(name: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { state, finishedAt } = (await call(READER, 'docker_inspect', { container: name })).body
        .result as { state: string; finishedAt?: string };
      if (state === 'exited') {
        const wait = Date.parse(finishedAt ?? '') + 2100 - Date.now();
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
        return;
      }
      if (Date.now() > deadline) throw new Error(`${name} did not exit`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    fixture = await startEngine(kind);
    const image = await fixture.importBusybox();
    const run = (name: string, ...args: string[]) =>
      fixture.cli(['run', '-d', '--name', name, ...args]);
    await run('hv-crash', image, 'sh', '-c', 'sleep 1; exit 1');
    await run('hv-web', image, 'sleep', '100000');
    await run('hv-capped', '--memory', '64m', image, 'sleep', '100000');
    await run('hv-locked', '--label', 'datamancy.manage=false', image, 'sleep', '100000');
    ({ app } = await createTestToolServer({
      dockerHost: fixture.dockerHost,
      hostPluginConfig: { stopTimeoutS: 0, maxMemoryMb: 1024 },
    }));
  }, 120_000);

  afterAll(async () => {
    await fixture?.close();
  });

  describe('docker_events (host.docker.inspect)', () => {
    it("lists a container's events and classifies a process exiting 1 as a crash", async () => {
      await settled('hv-crash');
      // Podman runs a container through init and cleans up after the die; Docker emits neither.
      const expected =
        kind === 'podman'
          ? ['create', 'init', 'start', 'die', 'cleanup']
          : ['create', 'start', 'die'];
      // Under load the engine writes the events after an exit late (the die after FinishedAt,
      // Podman's cleanup after that), and a verdict on an exit under 2 s old is "unknown: ask
      // again in a moment". Ask again, within a bound, as a caller would; then judge.
      const ask = () => call(READER, 'docker_events', { container: 'hv-crash', since: '10m' });
      const settledReply = (r: Reply): boolean =>
        (r.body.result.events as { action: string }[]).some((e) => e.action === expected.at(-1)) &&
        (r.body.result.classification as { classification?: string } | undefined)
          ?.classification !== 'unknown';
      let reply = await ask();
      const deadline = Date.now() + 10_000;
      while (!settledReply(reply) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        reply = await ask();
      }
      const { status, body } = reply;
      expect(status).toBe(200);
      const events = body.result.events as { action: string; exitCode?: number }[];
      expect(events.map((e) => e.action)).toEqual(expected);
      expect(events.find((e) => e.action === 'die')?.exitCode).toBe(1);
      expect(body.result.classification).toMatchObject({
        container: 'hv-crash',
        state: 'exited',
        classification: 'crash',
        exitCode: 1,
      });
    });

    it('classifies a stop through docker_stop as an operator stop', async () => {
      const stop = await call(WRITER, 'docker_stop', { container: 'hv-web' });
      expect(stop.body.result.after).toMatchObject({ state: 'exited' });
      await settled('hv-web');
      const { body } = await call(READER, 'docker_events', { container: 'hv-web', since: '10m' });
      expect(body.result.classification).toMatchObject({
        classification: 'operator-stop',
        exitCode: 137,
        basis: expect.any(String),
      });
      // What decided differs: Docker's stop is kill (TERM, then KILL once the 0 s grace is
      // over), die, stop; Podman's is die and two cleanups, its stop event only sometimes.
      const events = body.result.events as { action: string; signal?: string }[];
      const seen = events
        .map((e) => (e.signal === undefined ? e.action : `${e.action}(${e.signal})`))
        .join(' ');
      expect(seen).toMatch(
        kind === 'docker'
          ? /^create start kill\(15\) kill\(9\) die stop$/
          : /^create init start (stop )?die cleanup cleanup$/,
      );
    });

    it('reads all containers without a classification, keeping the newest up to limit', async () => {
      const all = await call(READER, 'docker_events', { since: '10m' });
      const every = all.body.result.events as { container: string }[];
      expect(new Set(every.map((e) => e.container))).toEqual(
        new Set(['hv-crash', 'hv-web', 'hv-capped', 'hv-locked']),
      );
      const { body } = await call(READER, 'docker_events', { since: '10m', limit: 3 });
      expect(body.result).toMatchObject({ truncated: true, events: every.slice(-3) });
      expect(body.result.classification).toBeUndefined();
    });

    it('refuses a malformed since, a future until, an unknown container and a token without the capability', async () => {
      const bad = await call(READER, 'docker_events', { since: 'yesterday' });
      expect(bad.status).toBe(400);
      expect(bad.body.error?.issues?.[0]?.path).toBe('args.since');
      const future = await call(READER, 'docker_events', {
        since: '1h',
        until: new Date(Date.now() + 3_600_000).toISOString(),
      });
      expect(future.status).toBe(400);
      expect(future.body.error?.issues?.[0]).toMatchObject({
        path: 'args.until',
        message: expect.stringContaining('future'),
      });
      expect(
        (await call(READER, 'docker_events', { since: '1h', container: 'ghost' })).status,
      ).toBe(404);
      expect((await call(TEXT_ONLY, 'docker_events', { since: '1h' })).status).toBe(403);
    });
  });

  describe('docker_update_memory (host.docker.write)', () => {
    it('previews a change on dry_run with the current and new limits and the usage', async () => {
      const { status, body } = await call(WRITER, 'docker_update_memory', {
        container: 'hv-capped',
        memory_mb: 128,
        dry_run: true,
      });
      expect(status).toBe(200);
      expect(body.result).toMatchObject({
        dryRun: true,
        action: 'update_memory',
        allowed: true,
        target: { name: 'hv-capped' },
        currentMemoryBytes: 64 * MIB,
        newMemoryBytes: 128 * MIB,
        newMemorySwapBytes: 192 * MIB,
        effect: 'would set the memory limit of hv-capped from 64 MiB to 128 MiB',
      });
      expect(body.result.usageBytes).toBeGreaterThan(0);
      expect(body.result.warning).toBeUndefined();
    });

    it('takes memory_mb from 16 to maxMemoryMb, naming the field otherwise', async () => {
      for (const memory_mb of [8, 12.5, 2048]) {
        const { status, body } = await call(WRITER, 'docker_update_memory', {
          container: 'hv-capped',
          memory_mb,
          dry_run: true,
        });
        expect(status).toBe(400);
        expect(body.error?.issues?.[0]?.path).toBe('args.memory_mb');
      }
      const over = await call(WRITER, 'docker_update_memory', { container: 'x', memory_mb: 2048 });
      expect(over.body.error?.message).toContain('maxMemoryMb');
    });

    it('never touches a container labelled datamancy.manage=false', async () => {
      const dry = await call(WRITER, 'docker_update_memory', {
        container: 'hv-locked',
        memory_mb: 64,
        dry_run: true,
      });
      expect(dry.body.result).toMatchObject({
        allowed: false,
        refusal: expect.stringContaining('datamancy.manage=false'),
        currentMemoryBytes: null,
      });
      const real = await call(WRITER, 'docker_update_memory', {
        container: 'hv-locked',
        memory_mb: 64,
      });
      expect(real.status).toBe(403);
      expect(real.body.error?.code).toBe('CONTAINER_UNMANAGED');
    });

    it.runIf(kind === 'docker')(
      'changes the memory limit on Docker, swap keeping its headroom, and answers before and after',
      async () => {
        const { status, body } = await call(WRITER, 'docker_update_memory', {
          container: 'hv-capped',
          memory_mb: 128,
        });
        expect(status).toBe(200);
        expect(body.result).toMatchObject({
          dryRun: false,
          action: 'update_memory',
          target: { name: 'hv-capped' },
          before: { memoryLimitBytes: 64 * MIB },
          after: { memoryLimitBytes: 128 * MIB, state: 'running' },
          newMemorySwapBytes: 192 * MIB,
        });
        const after = await call(READER, 'docker_inspect', { container: 'hv-capped' });
        expect(after.body.result).toMatchObject({
          memoryLimitBytes: 128 * MIB,
          memorySwapLimitBytes: 192 * MIB,
        });
      },
    );

    it.runIf(kind === 'podman')(
      'answers 502 on Podman, whose Docker-compatible API has no container update, and changes nothing',
      async () => {
        const { status, body } = await call(WRITER, 'docker_update_memory', {
          container: 'hv-capped',
          memory_mb: 128,
        });
        expect(status).toBe(502);
        expect(body.error).toMatchObject({
          code: 'UPSTREAM_ERROR',
          message: expect.stringMatching(
            /^Podman Engine .* has no POST \/containers\/\{id\}\/update/,
          ),
        });
        const after = await call(READER, 'docker_inspect', { container: 'hv-capped' });
        expect(after.body.result.memoryLimitBytes).toBe(64 * MIB);
      },
    );

    it('is refused to a read-only token', async () => {
      const { status, body } = await call(READER, 'docker_update_memory', {
        container: 'hv-capped',
        memory_mb: 128,
      });
      expect(status).toBe(403);
      expect(body.error?.code).toBe('CAPABILITY_DENIED');
    });
  });
});

describe('planMemoryUpdate', () => {
  it('keeps swap headroom, keeps unlimited swap, and gives an unlimited container twice the memory', () => {
    expect(
      planMemoryUpdate({ memoryLimitBytes: 64 * MIB, memorySwapLimitBytes: 96 * MIB }, 128 * MIB),
    ).toEqual({ memoryBytes: 128 * MIB, memorySwapBytes: 160 * MIB });
    expect(
      planMemoryUpdate({ memoryLimitBytes: 64 * MIB, memorySwapLimitBytes: -1 }, 128 * MIB),
    ).toEqual({ memoryBytes: 128 * MIB, memorySwapBytes: -1 });
    expect(planMemoryUpdate({}, 128 * MIB)).toEqual({
      memoryBytes: 128 * MIB,
      memorySwapBytes: 256 * MIB,
    });
  });
});
