import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, testEngines, type EngineFixture } from '@datamancy/testkit';
import {
  classifyExit,
  DockerEngine,
  explainExit,
  resolveEndpoint,
  type ContainerEvent,
} from '../src/index.ts';

describe.each(testEngines())('against %s', (kind) => {
  let podman: EngineFixture;
  let engine: DockerEngine;
  let since: Date;
  let events: ContainerEvent[];

  const actionsOf = (name: string): string[] =>
    events.filter((e) => e.container === name).map((e) => e.action);

  async function waitExited(name: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await engine.inspect(name)).state !== 'exited') {
      if (Date.now() > deadline) throw new Error(`${name} did not exit`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    podman = await startEngine(kind);
    const image = await podman.importBusybox();
    engine = new DockerEngine(resolveEndpoint(podman.dockerHost));
    since = new Date(Date.now() - 1000);
    const run = (name: string, ...args: string[]) =>
      podman.cli(['run', '-d', '--name', name, ...args]);
    await run('ev-stop', image, 'sleep', '100000');
    await run(
      'ev-graceful',
      image,
      'sh',
      '-c',
      'trap "exit 0" TERM; while true; do sleep 0.1; done',
    );
    await run('ev-killed', image, 'sleep', '100000');
    await run('ev-running', image, 'sleep', '100000');
    await run('ev-crash', image, 'sh', '-c', 'sleep 1; exit 1');
    // PID 1 of a container cannot SIGKILL itself (the kernel ignores it inside the namespace);
    // in the host's PID namespace the shell is an ordinary process and dies of it: exit 137.
    await run('ev-kill9', '--pid=host', image, 'sh', '-c', 'sleep 1; kill -9 $$');
    await run('ev-mem', '--memory', '64m', image, 'sleep', '100000');
    // A real memory-limit kill: the shell doubles a string until the kernel's OOM killer stops it.
    await run(
      'ev-oom',
      '--memory',
      '16m',
      '--memory-swap',
      '16m',
      image,
      'sh',
      '-c',
      'sleep 1; a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done',
    );
    await engine.stop('ev-stop', { timeoutS: 0 });
    await engine.stop('ev-graceful', { timeoutS: 5 });
    await podman.cli(['kill', 'ev-killed']);
    await waitExited('ev-crash');
    await waitExited('ev-kill9');
    await waitExited('ev-oom');
    // Podman writes its cleanup events a little (~0.2 s) after the die.
    await new Promise((r) => setTimeout(r, 1500));
    events = await engine.events({ since });
  }, 60_000);

  afterAll(async () => {
    await podman?.close();
  });

  describe('DockerEngine.events', () => {
    it('reads container events oldest first, with the exit code on die', () => {
      expect(actionsOf('ev-crash')).toEqual(
        kind === 'podman'
          ? ['create', 'init', 'start', 'die', 'cleanup']
          : ['create', 'start', 'die'],
      );
      expect(events.find((e) => e.container === 'ev-crash' && e.action === 'die')).toMatchObject({
        exitCode: 1,
        id: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const times = events.map((e) => Date.parse(e.time));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(events[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it.runIf(kind === 'docker')(
      "shows Docker's stop as kill (TERM, then KILL when the grace runs out), die, stop; its kill as kill, die; an OOM kill as oom, die",
      () => {
        const withSignals = (name: string) =>
          events
            .filter((e) => e.container === name)
            .map((e) => (e.signal === undefined ? e.action : `${e.action}(${e.signal})`))
            .join(' ');
        expect(withSignals('ev-stop')).toBe('create start kill(15) kill(9) die stop');
        expect(withSignals('ev-graceful')).toBe('create start kill(15) die stop');
        expect(withSignals('ev-killed')).toBe('create start kill(9) die');
        expect(withSignals('ev-kill9')).toBe('create start die');
        expect(withSignals('ev-oom')).toBe('create start oom die');
      },
    );

    it.runIf(kind === 'podman')(
      "shows Podman's stop as die and two cleanups, its stop event only sometimes; no oom event",
      () => {
        expect(actionsOf('ev-oom')).toEqual(['create', 'init', 'start', 'die', 'cleanup']);
        expect(actionsOf('ev-stop').join(' ')).toMatch(
          /^create init start (stop )?die cleanup cleanup$/,
        );
        expect(actionsOf('ev-graceful').join(' ')).toMatch(
          /^create init start (stop )?die cleanup cleanup$/,
        );
        expect(actionsOf('ev-killed')).toEqual([
          'create',
          'init',
          'start',
          'kill',
          'die',
          'cleanup',
        ]);
        expect(actionsOf('ev-kill9')).toEqual(['create', 'init', 'start', 'die', 'cleanup']);
      },
    );

    it('filters by container, cuts at a past until, and keeps the newest up to limit', async () => {
      const crash = await engine.events({ since, container: 'ev-crash' });
      expect(crash.map((e) => e.action)).toEqual(actionsOf('ev-crash'));
      const start = crash.find((e) => e.action === 'start');
      const upToStart = await engine.events({ since, until: start?.time, container: 'ev-crash' });
      expect(upToStart.map((e) => e.action)).toEqual(
        kind === 'podman' ? ['create', 'init', 'start'] : ['create', 'start'],
      );
      const lastTwo = await engine.events({ since: '10m', container: 'ev-crash', limit: 2 });
      expect(lastTwo.map((e) => e.action)).toEqual(actionsOf('ev-crash').slice(-2));
    });

    it('refuses a malformed or inverted time range', async () => {
      await expect(engine.events({ since: 'yesterday' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENTS',
        message: expect.stringContaining('yesterday'),
      });
      await expect(engine.events({ since: '1m', until: '2m' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENTS',
        message: 'until is before since',
      });
    });
  });

  describe('classifyExit on real exits', () => {
    const judge = async (name: string) => {
      const d = await engine.inspect(name);
      return explainExit(events, d.id, { finishedAt: d.finishedAt, oomKilled: d.oomKilled });
    };

    it('calls an API stop an operator stop (on Podman whether or not it emitted its stop event)', async () => {
      expect(await judge('ev-stop')).toMatchObject({
        classification: 'operator-stop',
        exitCode: 137,
      });
      expect(await judge('ev-graceful')).toMatchObject({
        classification: 'operator-stop',
        exitCode: 0,
      });
      expect(await judge('ev-killed')).toMatchObject({
        classification: 'operator-stop',
        // Docker names the signal of its kill; Podman does not.
        basis: expect.stringMatching(
          kind === 'docker'
            ? /^kill \(signal 9\) at .* before the die$/
            : /^kill at .* before the die$/,
        ) as unknown,
      });
    });

    it('calls a process exiting 1 a crash', async () => {
      expect(await judge('ev-crash')).toMatchObject({ classification: 'crash', exitCode: 1 });
    });

    it('calls a SIGKILL the engine did not send a crash with exit code 137', async () => {
      expect(await judge('ev-kill9')).toMatchObject({ classification: 'crash', exitCode: 137 });
    });

    it('calls a memory-limit kill oom on Docker (its oom event and OOMKilled), a crash with 137 on Podman (which reports neither)', async () => {
      const d = await engine.inspect('ev-oom');
      expect(d.oomKilled).toBe(kind === 'docker');
      expect(await judge('ev-oom')).toMatchObject(
        kind === 'docker'
          ? {
              classification: 'oom',
              exitCode: 137,
              basis: expect.stringMatching(/^oom at /) as unknown,
            }
          : { classification: 'crash', exitCode: 137 },
      );
    });

    it('says unknown for a container that has not exited', async () => {
      const d = await engine.inspect('ev-running');
      expect(d.finishedAt).toBeUndefined();
      expect(classifyExit(events, 'ev-running', { finishedAt: d.finishedAt })).toBe('unknown');
    });
  });

  describe('DockerEngine.updateResources', () => {
    it('reads the memory limit from inspect, absent when there is none', async () => {
      expect(await engine.inspect('ev-mem')).toMatchObject({
        memoryLimitBytes: 64 * 1024 * 1024,
        memorySwapLimitBytes: 128 * 1024 * 1024,
      });
      expect((await engine.inspect('ev-running')).memoryLimitBytes).toBeUndefined();
    });

    it("changes the memory limit, or says the engine's compatible API cannot (Podman)", async () => {
      const update = engine.updateResources('ev-mem', {
        memoryBytes: 96 * 1024 * 1024,
        memorySwapBytes: 192 * 1024 * 1024,
      });
      if (kind === 'podman') {
        await expect(update).rejects.toMatchObject({
          code: 'UPSTREAM_ERROR',
          status: 502,
          message: expect.stringContaining('has no POST /containers/{id}/update'),
        });
        expect((await engine.inspect('ev-mem')).memoryLimitBytes).toBe(64 * 1024 * 1024);
      } else {
        await update;
        expect((await engine.inspect('ev-mem')).memoryLimitBytes).toBe(96 * 1024 * 1024);
      }
    });

    it('answers 404 for an unknown container', async () => {
      await expect(engine.updateResources('ghost', { memoryBytes: 1 << 26 })).rejects.toMatchObject(
        {
          code: 'NOT_FOUND',
          message: 'no container named ghost',
        },
      );
    });
  });
});
