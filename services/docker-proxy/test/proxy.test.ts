import { request } from 'node:http';
import { connect } from 'node:net';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@datamancy/core';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { startPodman, type PodmanFixture } from '@datamancy/testkit';
import {
  DockerProxyConfigSchema,
  startDockerProxy,
  type RunningDockerProxy,
} from '../src/index.ts';
import { captureLogs, messageOf, rawRequest } from './helpers.ts';

/**
 * The proxy in front of a real engine (Podman's Docker-compatible API on a private socket):
 * what the control plane calls works through it, and each refused call is shown to have
 * changed nothing by looking at the engine directly.
 */

let podman: PodmanFixture;
let image: string;
let proxy: RunningDockerProxy;
let full: RunningDockerProxy;
let logs: string[];
/** Straight at the engine's socket: the ground truth. */
let direct: Docker;
/** dockerode through the control-plane proxy. */
let viaProxy: Docker;
/** Our engine adapter through the control-plane proxy. */
let engine: DockerEngine;

const ALLOWLIST = {
  'dm-target': [
    ['echo', 'hello'],
    ['cat', '*'],
    ['sh', '-c', 'echo out; echo err >&2; exit 3'],
  ],
  ticker: [['echo', '*']],
};

async function names(): Promise<string[]> {
  const list = await direct.listContainers({ all: true });
  return list.map((c) => (c.Names[0] ?? '').replace(/^\//, '')).sort();
}

async function fileExists(container: string, path: string): Promise<boolean> {
  const out = await podman.cli([
    'exec',
    container,
    'sh',
    '-c',
    `test -e ${path} && echo yes || echo no`,
  ]);
  return out === 'yes';
}

function expectRefused(err: unknown, fragment: string): void {
  const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
  expect(e.statusCode).toBe(403);
  expect(e.json?.message ?? e.message).toContain('datamancy docker-proxy');
  expect(e.json?.message ?? e.message).toContain(fragment);
}

beforeAll(async () => {
  podman = await startPodman();
  image = await podman.importBusybox();
  await podman.cli(['run', '-d', '--name', 'dm-target', image, 'sleep', '100000']);
  await podman.cli([
    'run',
    '-d',
    '--name',
    'dm-ticker',
    '--label',
    'com.docker.compose.service=ticker',
    image,
    'sh',
    '-c',
    'echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done',
  ]);
  await podman.cli([
    'run',
    '-d',
    '--name',
    'dm-unmanaged',
    '--label',
    'datamancy.manage=false',
    image,
    'sleep',
    '100000',
  ]);
  const captured = captureLogs();
  logs = captured.lines;
  proxy = await startDockerProxy({
    config: DockerProxyConfigSchema.parse({
      port: 0,
      socket: podman.socketPath,
      execAllowlist: ALLOWLIST,
    }),
    defaultHost: '127.0.0.1',
    logger: captured.logger,
  });
  full = await startDockerProxy({
    config: DockerProxyConfigSchema.parse({ port: 0, socket: podman.socketPath, policy: 'full' }),
    defaultHost: '127.0.0.1',
    logger: captured.logger,
  });
  direct = new Docker({ socketPath: podman.socketPath });
  viaProxy = new Docker({ host: '127.0.0.1', port: proxy.server.port, protocol: 'http' });
  engine = new DockerEngine(resolveEndpoint(`tcp://127.0.0.1:${proxy.server.port}`));
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await full?.close();
  await podman?.close();
});

describe('through the control-plane proxy, what the control plane does works', () => {
  it('listens on loopback and answers /healthz itself when the engine answers _ping', async () => {
    expect(proxy.server.host).toBe('127.0.0.1');
    const res = await rawRequest({ port: proxy.server.port }, 'GET', '/healthz');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'ok', policy: 'control-plane' });
  });

  it('pings, lists and inspects with DockerEngine', async () => {
    const info = await engine.ping();
    expect(info.product).toMatch(/Podman|Docker/);
    const list = await engine.list();
    expect(list.map((c) => c.name)).toEqual(
      expect.arrayContaining(['dm-target', 'dm-ticker', 'dm-unmanaged']),
    );
    const ticker = await engine.inspect('dm-ticker');
    expect(ticker).toMatchObject({ name: 'dm-ticker', state: 'running' });
    expect(ticker.compose.service).toBe('ticker');
  });

  it('reads logs and stats with DockerEngine', async () => {
    const result = await engine.logs('dm-ticker', { tail: 50, maxBytes: 64 * 1024 });
    expect(result.lines.map((l) => l.text)).toContain('started');
    const stats = await engine.stats('dm-target');
    expect(stats.memoryBytes).toBeGreaterThan(0);
  });

  it('stops, starts and restarts with DockerEngine, and the events say so', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    await engine.stop('dm-target', { timeoutS: 0 });
    expect((await direct.getContainer('dm-target').inspect()).State.Running).toBe(false);
    await engine.start('dm-target');
    expect((await direct.getContainer('dm-target').inspect()).State.Running).toBe(true);
    const before = (await direct.getContainer('dm-target').inspect()).State.StartedAt;
    await engine.restart('dm-target', { timeoutS: 0 });
    const after = await direct.getContainer('dm-target').inspect();
    expect(after.State.Running).toBe(true);
    expect(after.State.StartedAt).not.toBe(before);
    const events = await engine.events({
      since,
      until: new Date(Date.now() + 500).toISOString(),
      container: 'dm-target',
    });
    // Podman reports a stop with no grace period as a die
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['die', 'start', 'restart']),
    );
  });

  it('runs an allowlisted exec with DockerEngine (hijacked) and returns its output and exit code', async () => {
    const result = await engine.exec('dm-target', ['echo', 'hello'], {
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'hello', timedOut: false });
    const both = await engine.exec('dm-target', ['sh', '-c', 'echo out; echo err >&2; exit 3'], {
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    expect(both).toMatchObject({ exitCode: 3, stdout: 'out', stderr: 'err' });
  });

  it('runs an allowlisted exec by compose service name with dockerode, without hijack', async () => {
    const exec = await viaProxy.getContainer('dm-ticker').exec({
      Cmd: ['echo', 'via', 'service'],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: false, stdin: false })) as NodeJS.ReadableStream;
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('exec output did not end in 10 s')), 10_000);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        clearTimeout(timer);
        resolve();
      });
      stream.on('error', reject);
    });
    expect(Buffer.concat(chunks).toString('utf8')).toContain('via service');
    const inspected = await exec.inspect();
    expect(inspected.ExitCode).toBe(0);
  });

  it('passes a resource update through to the engine (whose own answer comes back, not a refusal)', async () => {
    const err = await engine
      .updateResources('dm-target', { memoryBytes: 256 * 1024 * 1024 })
      .then(() => undefined)
      .catch((e: unknown) => e);
    if (err !== undefined) {
      // Podman's compatible API has no update route: the engine's 404, explained by DockerEngine
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).message).toContain('no POST /containers/{id}/update');
      expect((err as AppError).message).not.toContain('docker-proxy');
    } else {
      const after = await direct.getContainer('dm-target').inspect();
      expect(after.HostConfig.Memory).toBe(256 * 1024 * 1024);
    }
  });

  it('streams logs with follow as the lines are written, without waiting for an end', async () => {
    // the ticker writes a line a second and never stops: a proxy that buffered would show none
    const ticks = await new Promise<{ at: number; text: string }[]>((resolve, reject) => {
      const seen: { at: number; text: string }[] = [];
      const req = request(
        {
          host: '127.0.0.1',
          port: proxy.server.port,
          path: '/containers/dm-ticker/logs?follow=true&stdout=true&tail=0',
        },
        (res) => {
          expect(res.statusCode).toBe(200);
          res.on('data', (chunk: Buffer) => {
            const text = chunk.toString('utf8');
            if (/tick \d+/.test(text)) seen.push({ at: Date.now(), text });
            if (seen.length === 2) {
              resolve(seen);
              req.destroy();
            }
          });
          res.once('end', () => reject(new Error('the follow stream ended')));
        },
      );
      req.setTimeout(15_000, () => req.destroy(new Error('fewer than 2 log lines within 15 s')));
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
      req.end();
    });
    expect(ticks[0]?.text).not.toBe(ticks[1]?.text);
    // one line, then the next about a second later: each arrived when it was written
    expect((ticks[1]?.at ?? 0) - (ticks[0]?.at ?? 0)).toBeGreaterThan(300);
  });

  it('lets a client leave a stream before the engine answered, without calling it an engine failure', async () => {
    // Podman sends no headers for a follow of a silent container until its first line
    await new Promise<void>((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port: proxy.server.port,
        path: '/containers/dm-unmanaged/logs?follow=true&stdout=true&tail=0',
      });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 500);
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(logs.join('')).not.toContain('engine unreachable');
    expect(proxy.stats.failed).toBe(0);
  });

  it('streams /events as they happen', async () => {
    const event = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: proxy.server.port,
          path: `/events?filters=${encodeURIComponent(JSON.stringify({ container: ['dm-ticker'] }))}`,
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString('utf8');
            if (/"(status|Action)":"restart"/.test(text) || /"Action":"start"/.test(text)) {
              resolve(text);
              req.destroy();
            }
          });
          // the stream is open: cause an event
          void engine.restart('dm-ticker', { timeoutS: 0 }).catch(reject);
        },
      );
      req.setTimeout(20_000, () => req.destroy(new Error('no event within 20 s')));
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
      req.end();
    });
    expect(event).toContain('dm-ticker');
  });
});

describe('through the control-plane proxy, everything else is refused and nothing happens', () => {
  it('refuses container create (privileged, mounting /) and no container appears', async () => {
    const before = await names();
    const err = await viaProxy
      .createContainer({
        name: 'dm-pwned',
        Image: image,
        Cmd: ['sleep', '1000'],
        HostConfig: { Privileged: true, Binds: ['/:/host'] },
      })
      .catch((e: unknown) => e);
    expectRefused(err, 'POST /containers/create is not allowed by the control-plane policy');
    // behind a version prefix, as the Docker CLI sends it
    const prefixed = await rawRequest(
      { port: proxy.server.port },
      'POST',
      '/v1.41/containers/create?name=dm-pwned',
      {
        body: JSON.stringify({ Image: image, HostConfig: { Privileged: true } }),
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(prefixed.status).toBe(403);
    expect(await names()).toEqual(before);
    expect(await names()).not.toContain('dm-pwned');
  });

  it('refuses an image pull and no image appears', async () => {
    const before = (await direct.listImages()).length;
    const err = await viaProxy.pull('docker.io/library/alpine:latest').catch((e: unknown) => e);
    expectRefused(err, 'POST /images/create');
    expect((await direct.listImages()).length).toBe(before);
  });

  it('refuses archive and export reads (they leak files)', async () => {
    const target = viaProxy.getContainer('dm-target');
    expectRefused(
      await target.getArchive({ path: '/etc' }).catch((e: unknown) => e),
      'GET /containers/dm-target/archive',
    );
    expectRefused(
      await target.export().catch((e: unknown) => e),
      'GET /containers/dm-target/export',
    );
    const head = await rawRequest(
      { port: proxy.server.port },
      'HEAD',
      '/containers/dm-target/archive?path=/',
    );
    expect(head.status).toBe(403);
  });

  it('refuses an exec that is not allowlisted, and the file it would make does not exist', async () => {
    // the check itself can see a file made by the same command run directly
    await podman.cli(['exec', 'dm-target', 'touch', '/tmp/control']);
    expect(await fileExists('dm-target', '/tmp/control')).toBe(true);
    const err = await viaProxy
      .getContainer('dm-target')
      .exec({ Cmd: ['touch', '/tmp/pwned'], AttachStdout: true })
      .catch((e: unknown) => e);
    expectRefused(err, 'is not on the exec allowlist of dm-target');
    const viaEngine = await engine
      .exec('dm-target', ['touch', '/tmp/pwned'], { timeoutMs: 5000, maxOutputBytes: 1024 })
      .catch((e: unknown) => e);
    expect(viaEngine).toBeInstanceOf(AppError);
    expect(await fileExists('dm-target', '/tmp/pwned')).toBe(false);
  });

  it('refuses a privileged exec and a User override of an allowlisted command', async () => {
    const target = viaProxy.getContainer('dm-target');
    expectRefused(
      await target.exec({ Cmd: ['echo', 'hello'], Privileged: true }).catch((e: unknown) => e),
      'privileged exec is never allowed',
    );
    expectRefused(
      await target.exec({ Cmd: ['cat', '/etc/shadow'], User: 'root' }).catch((e: unknown) => e),
      'User override',
    );
    // and no exec session was left behind on the container
    const inspected = await direct.getContainer('dm-target').inspect();
    const sessions = (inspected as unknown as { ExecIDs?: string[] | null }).ExecIDs ?? [];
    for (const id of sessions) {
      const exec = await direct.getExec(id).inspect();
      expect(exec.ProcessConfig.privileged).not.toBe(true);
      expect(exec.ProcessConfig.user ?? '').toBe('');
    }
  });

  it('refuses to start an exec this proxy did not create, and it never runs', async () => {
    const foreign = await direct
      .getContainer('dm-target')
      .exec({ Cmd: ['touch', '/tmp/pwned-foreign'], AttachStdout: true });
    const hijacked = await viaProxy
      .getExec(foreign.id)
      .start({ hijack: true, stdin: false })
      .catch((e: unknown) => e);
    expectRefused(hijacked, 'was not created through this proxy');
    const plain = await rawRequest(
      { port: proxy.server.port },
      'POST',
      `/exec/${foreign.id}/start`,
      {
        body: '{"Detach":false}',
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(plain.status).toBe(403);
    expect(messageOf(plain)).toContain('was not created through this proxy');
    const inspect = await rawRequest(
      { port: proxy.server.port },
      'GET',
      `/exec/${foreign.id}/json`,
    );
    expect(inspect.status).toBe(403);
    const state = await direct.getExec(foreign.id).inspect();
    expect(state.Running).toBe(false);
    expect(state.Pid ?? 0).toBe(0);
    expect(await fileExists('dm-target', '/tmp/pwned-foreign')).toBe(false);
  });

  it('never lets a request ride behind an exec start to the engine (no smuggling through the tunnel)', async () => {
    // an allowlisted exec, started once: a second start is an ordinary (non-101) answer, after
    // which a naive tunnel would hand the next request on the connection to the engine
    const exec = await viaProxy
      .getContainer('dm-target')
      .exec({ Cmd: ['echo', 'hello'], AttachStdout: true });
    const first = await exec.start({ hijack: true, stdin: false });
    await new Promise((resolve) => {
      first.on('end', resolve);
      first.on('close', resolve);
      first.resume();
    });
    const create = JSON.stringify({
      Image: image,
      Cmd: ['sleep', '1000'],
      HostConfig: { Privileged: true },
    });
    const start = '{"Detach":false,"Tty":false}';
    const wire =
      `POST /exec/${exec.id}/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${start.length}\r\n\r\n${start}` +
      `POST /containers/create?name=dm-smuggled HTTP/1.1\r\nHost: docker\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${create.length}\r\n\r\n${create}`;
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(proxy.server.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
      socket.write(wire);
      setTimeout(() => socket.destroy(), 3000);
    });
    // the engine answered the start (an error: it ran already), and nothing else
    expect(answer).toMatch(/^HTTP\/1\.1 \d{3}/);
    expect(answer).not.toMatch(/HTTP\/1\.1 201/);
    expect(await names()).not.toContain('dm-smuggled');
  });

  it('refuses a hijacked upgrade on a route other than exec start', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: proxy.server.port,
        method: 'POST',
        path: '/containers/dm-target/attach?stream=1&stdout=1',
        headers: { connection: 'Upgrade', upgrade: 'tcp' },
      });
      req.on('upgrade', () => reject(new Error('the proxy upgraded an attach')));
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('POST /containers/dm-target/attach is not allowed');
  });

  it('refuses kill, rename and delete, and the container is untouched', async () => {
    const before = await direct.getContainer('dm-target').inspect();
    const target = viaProxy.getContainer('dm-target');
    expectRefused(await target.kill().catch((e: unknown) => e), '/kill');
    expectRefused(await target.rename({ name: 'dm-renamed' }).catch((e: unknown) => e), '/rename');
    expectRefused(
      await target.remove({ force: true }).catch((e: unknown) => e),
      'DELETE /containers/dm-target',
    );
    const after = await direct.getContainer('dm-target').inspect();
    expect(after.Id).toBe(before.Id);
    expect(after.Name.replace(/^\//, '')).toBe('dm-target');
    expect(after.State.Running).toBe(true);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
  });

  it('refuses every change to a container labelled datamancy.manage=false', async () => {
    const before = await direct.getContainer('dm-unmanaged').inspect();
    await expect(engine.restart('dm-unmanaged', { timeoutS: 0 })).rejects.toThrow(
      /datamancy.manage=false/,
    );
    await expect(engine.stop('dm-unmanaged', { timeoutS: 0 })).rejects.toThrow(
      /datamancy.manage=false/,
    );
    const after = await direct.getContainer('dm-unmanaged').inspect();
    expect(after.State.Running).toBe(true);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
  });

  it('answers an unknown container with 404 so DockerEngine reports NOT_FOUND', async () => {
    const err = await engine.restart('dm-ghost').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('NOT_FOUND');
  });

  it.each([
    ['POST', '/containers/%2e%2e/create'],
    ['POST', '/containers/dm-target/../create'],
    ['POST', '/containers/dm-target%2F..%2Fcreate/start'],
    ['GET', '/containers//json'],
    ['GET', '/containers/json/'],
    ['GET', '/Containers/json'],
    ['POST', '/v1.23/containers/dm-target/start'],
    ['POST', '/containers/dm-target/stop?t=1;signal=KILL'],
    ['POST', '/containers/dm-target/stop?t=1&t=2'],
  ])('refuses the disguised request %s %s', async (method, path) => {
    const res = await rawRequest({ port: proxy.server.port }, method, path);
    expect(res.status).toBe(403);
    expect(messageOf(res)).toMatch(
      /^datamancy docker-proxy: .* is not allowed by the control-plane policy/,
    );
  });

  it('refuses a start carrying a HostConfig body, and the container keeps its config', async () => {
    await direct.getContainer('dm-target').stop({ t: 0 });
    const res = await rawRequest(
      { port: proxy.server.port },
      'POST',
      '/v1.24/containers/dm-target/start',
      {
        body: JSON.stringify({ Privileged: true, Binds: ['/:/host'] }),
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(res.status).toBe(403);
    const after = await direct.getContainer('dm-target').inspect();
    expect(after.State.Running).toBe(false);
    expect(after.HostConfig.Privileged).toBe(false);
    await direct.getContainer('dm-target').start();
  });

  it('refuses an update that is more than resource limits', async () => {
    const res = await rawRequest(
      { port: proxy.server.port },
      'POST',
      '/containers/dm-target/update',
      {
        body: JSON.stringify({ Memory: 1048576, Privileged: true }),
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(res.status).toBe(403);
    expect(messageOf(res)).toContain('update key "Privileged"');
  });

  it('answers 413 to an inspected body over the limit, announced or chunked', async () => {
    const big = JSON.stringify({ Cmd: ['echo', 'x'.repeat(100_000)] });
    for (const chunked of [false, true]) {
      const res = await rawRequest(
        { port: proxy.server.port },
        'POST',
        '/containers/dm-target/exec',
        {
          body: big,
          chunked,
          headers: { 'content-type': 'application/json' },
        },
      );
      expect(res.status, `chunked=${String(chunked)}`).toBe(413);
      expect(messageOf(res)).toContain('65536 bytes');
    }
  });

  it('accepts a chunked exec body within the limit and refuses a non-JSON one', async () => {
    const ok = await rawRequest({ port: proxy.server.port }, 'POST', '/containers/dm-target/exec', {
      body: JSON.stringify({ Cmd: ['echo', 'hello'], AttachStdout: true }),
      chunked: true,
      headers: { 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(201);
    const id = (JSON.parse(ok.body) as { Id: string }).Id;
    expect(proxy.execs.lookup(id)).toBeDefined();
    const text = await rawRequest(
      { port: proxy.server.port },
      'POST',
      '/containers/dm-target/exec',
      {
        body: 'Cmd=touch /tmp/pwned',
        headers: { 'content-type': 'text/plain' },
      },
    );
    expect(text.status).toBe(403);
    const garbage = await rawRequest(
      { port: proxy.server.port },
      'POST',
      '/containers/dm-target/exec',
      {
        body: '{"Cmd":["echo",',
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(garbage.status).toBe(403);
    expect(messageOf(garbage)).toContain('not JSON');
  });

  it('logs each refusal as a warn line with method, path and reason, never the body or env', async () => {
    await viaProxy
      .getContainer('dm-target')
      .exec({ Cmd: ['touch', '/tmp/secret-arg-7d1f'], Env: ['DB_PASSWORD=hunter2-7d1f'] })
      .catch(() => undefined);
    await viaProxy
      .getContainer('dm-target')
      .exec({ Cmd: ['cat', '/tmp/secret-arg-7d1f'], Env: ['DB_PASSWORD=hunter2-7d1f'] })
      .catch(() => undefined);
    const refusals = logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'docker-proxy refused a request');
    expect(refusals.length).toBeGreaterThan(5);
    expect(refusals.every((l) => l.level === 'warn')).toBe(true);
    expect(refusals).toContainEqual(
      expect.objectContaining({
        method: 'POST',
        path: '/containers/create',
        reason: 'not on its allowlist',
      }),
    );
    const all = logs.join('\n');
    expect(all).not.toContain('hunter2-7d1f');
    expect(all).not.toContain('secret-arg-7d1f');
  });
});

describe('the full policy', () => {
  it('passes a container create and delete through, and the engine has the container in between', async () => {
    const admin = new Docker({ host: '127.0.0.1', port: full.server.port, protocol: 'http' });
    const created = await admin.createContainer({
      name: 'dm-full-created',
      Image: image,
      Cmd: ['true'],
    });
    try {
      expect(await names()).toContain('dm-full-created');
    } finally {
      await admin.getContainer(created.id).remove({ force: true });
    }
    expect(await names()).not.toContain('dm-full-created');
  });

  it('tunnels a hijacked exec of any command, and logs it', async () => {
    const admin = new DockerEngine(resolveEndpoint(`tcp://127.0.0.1:${full.server.port}`));
    const result = await admin.exec('dm-target', ['sh', '-c', 'echo through full'], {
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'through full' });
    expect(full.stats.upgraded).toBeGreaterThan(0);
    expect(logs.join('')).toMatch(/"policy":"full"[^\n]*"route":"full"[^\n]*"status":101/);
  });
});

describe('when the engine is gone', () => {
  it('answers /healthz 503 and requests 502, naming the socket', async () => {
    const lost = await startDockerProxy({
      config: DockerProxyConfigSchema.parse({ port: 0, socket: '/nonexistent/docker.sock' }),
      defaultHost: '127.0.0.1',
      logger: captureLogs().logger,
    });
    try {
      const health = await rawRequest({ port: lost.server.port }, 'GET', '/healthz');
      expect(health.status).toBe(503);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'unavailable', reason: 'ENOENT' });
      const list = await rawRequest({ port: lost.server.port }, 'GET', '/containers/json');
      expect(list.status).toBe(502);
      expect(messageOf(list)).toContain('/nonexistent/docker.sock');
      // a refusal is still a refusal, engine or not
      const create = await rawRequest({ port: lost.server.port }, 'POST', '/containers/create');
      expect(create.status).toBe(403);
    } finally {
      await lost.close();
    }
  });
});
