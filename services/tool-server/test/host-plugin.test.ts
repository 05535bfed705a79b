import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, testEngines, type EngineFixture } from '@datamancy/testkit';
import { ADMIN, createTestToolServer, postJson, READER, TEXT_ONLY, WRITER } from './helpers.ts';

type App = Awaited<ReturnType<typeof createTestToolServer>>['app'];

interface Reply {
  status: number;
  body: {
    result: Record<string, unknown> & { containers?: Record<string, unknown>[] };
    error?: { code: string; message: string };
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

  beforeAll(async () => {
    fixture = await startEngine(kind);
    const image = await fixture.importBusybox();
    const compose = (service: string) => [
      '--label',
      'com.docker.compose.project=stack',
      '--label',
      `com.docker.compose.service=${service}`,
    ];
    await fixture.cli([
      'run',
      '-d',
      '--name',
      'dm-web',
      ...compose('web'),
      image,
      'sh',
      '-c',
      'echo web up; exec sleep 100000',
    ]);
    await fixture.cli([
      'run',
      '-d',
      '--name',
      'dm-app',
      ...compose('app'),
      '--label',
      'com.docker.compose.depends_on=web:service_started:false',
      image,
      'sleep',
      '100000',
    ]);
    await fixture.cli([
      'run',
      '-d',
      '--name',
      'dm-locked',
      '--label',
      'datamancy.manage=false',
      image,
      'sleep',
      '100000',
    ]);
    ({ app } = await createTestToolServer({
      dockerHost: fixture.dockerHost,
      hostPluginConfig: {
        execAllowlist: { web: [['echo', 'hello']], 'dm-app': [['cat', '*']] },
        stopTimeoutS: 0,
      },
    }));
  }, 120_000);

  afterAll(async () => {
    await fixture?.close();
  });

  describe('host plugin: container reads (host.docker.inspect)', () => {
    it('lists containers with compose labels, restart count, times and management flag', async () => {
      const { status, body } = await call(READER, 'docker_list_containers', { project: 'stack' });
      expect(status).toBe(200);
      const names = body.result.containers?.map((c) => c.name);
      expect(names).toEqual(['dm-app', 'dm-web']);
      const web = body.result.containers?.find((c) => c.name === 'dm-web');
      expect(web).toMatchObject({
        state: 'running',
        restartCount: 0,
        managed: true,
        compose: { service: 'web' },
      });
      expect(typeof web?.startedAt).toBe('string');
      const all = await call(READER, 'docker_list_containers', {});
      expect(all.body.result.containers?.find((c) => c.name === 'dm-locked')?.managed).toBe(false);
    });

    it('inspects, reads logs and stats, and waits for health', async () => {
      expect(
        (await call(READER, 'docker_inspect', { container: 'dm-web' })).body.result,
      ).toMatchObject({ name: 'dm-web', state: 'running' });
      const logs = await call(READER, 'docker_logs', { container: 'dm-web', tail: 10 });
      expect(logs.body.result.lines).toEqual([{ stream: 'stdout', text: 'web up' }]);
      const stats = await call(READER, 'docker_stats', { container: 'dm-web' });
      expect(stats.body.result.memoryBytes).toBeGreaterThan(0);
      const health = await call(READER, 'docker_health_wait', {
        container: 'dm-web',
        timeout_ms: 2000,
      });
      expect(health.body.result).toMatchObject({ outcome: 'running' });
    });

    it('answers 404 for an unknown container and 400 for a malformed name', async () => {
      expect((await call(READER, 'docker_inspect', { container: 'ghost' })).status).toBe(404);
      const bad = await call(READER, 'docker_inspect', { container: 'a;b' });
      expect(bad.status).toBe(400);
    });
  });

  describe('host plugin: container writes (host.docker.write)', () => {
    it('previews a restart on dry_run without acting, naming dependents', async () => {
      const before = (await call(READER, 'docker_inspect', { container: 'dm-web' })).body.result
        .startedAt;
      const { status, body } = await call(WRITER, 'docker_restart', {
        container: 'dm-web',
        dry_run: true,
      });
      expect(status).toBe(200);
      expect(body.result).toMatchObject({
        dryRun: true,
        action: 'restart',
        allowed: true,
        target: { name: 'dm-web' },
        current: { state: 'running', restartCount: 0 },
        dependents: ['dm-app'],
      });
      expect(String(body.result.effect)).toContain('dm-app');
      expect(
        (await call(READER, 'docker_inspect', { container: 'dm-web' })).body.result.startedAt,
      ).toBe(before);
    });

    it('restarts a container, returning before and after with a later start time', async () => {
      await new Promise((r) => setTimeout(r, 1100));
      const { status, body } = await call(WRITER, 'docker_restart', { container: 'dm-web' });
      expect(status).toBe(200);
      const before = body.result.before as { startedAt: string };
      const after = body.result.after as { startedAt: string; state: string };
      expect(after.state).toBe('running');
      expect(Date.parse(after.startedAt)).toBeGreaterThan(Date.parse(before.startedAt));
    });

    it('stops and starts a container', async () => {
      expect(
        (await call(WRITER, 'docker_stop', { container: 'dm-app' })).body.result.after,
      ).toMatchObject({ state: 'exited' });
      expect(
        (await call(WRITER, 'docker_start', { container: 'dm-app' })).body.result.after,
      ).toMatchObject({ state: 'running' });
    });

    it('refuses a read-scoped token with 403 and leaves the container alone', async () => {
      const { status, body } = await call(READER, 'docker_stop', { container: 'dm-web' });
      expect(status).toBe(403);
      expect(body.error?.code).toBe('CAPABILITY_DENIED');
      expect(
        (await call(READER, 'docker_inspect', { container: 'dm-web' })).body.result.state,
      ).toBe('running');
    });

    it('never touches a container labelled datamancy.manage=false', async () => {
      const dry = await call(WRITER, 'docker_stop', { container: 'dm-locked', dry_run: true });
      expect(dry.body.result).toMatchObject({
        allowed: false,
        refusal: expect.stringContaining('datamancy.manage=false'),
      });
      const real = await call(ADMIN, 'docker_stop', { container: 'dm-locked' });
      expect(real.status).toBe(403);
      expect(real.body.error?.code).toBe('CONTAINER_UNMANAGED');
      expect(
        (await call(READER, 'docker_inspect', { container: 'dm-locked' })).body.result.state,
      ).toBe('running');
    });

    it('execs only allowlisted argv, by container or compose service name', async () => {
      const ok = await call(WRITER, 'docker_exec', {
        container: 'dm-web',
        argv: ['echo', 'hello'],
      });
      expect(ok.body.result).toMatchObject({ exitCode: 0, stdout: 'hello' });
      const wild = await call(WRITER, 'docker_exec', {
        container: 'dm-app',
        argv: ['cat', '/etc/hostname'],
      });
      expect(wild.body.result.exitCode).toBe(0);
      const refused = await call(WRITER, 'docker_exec', {
        container: 'dm-web',
        argv: ['rm', '-rf', '/tmp'],
      });
      expect(refused.status).toBe(403);
      expect(refused.body.error?.code).toBe('NOT_ALLOWLISTED');
      const dry = await call(WRITER, 'docker_exec', {
        container: 'dm-web',
        argv: ['echo', 'bye'],
        dry_run: true,
      });
      expect(dry.body.result).toMatchObject({ dryRun: true, allowed: false });
    });
  });
});

describe('host plugin without an engine', () => {
  it('answers 503 naming the socket and DOCKER_HOST', async () => {
    const bare = await createTestToolServer();
    const res = await bare.app.request(
      '/call-tool',
      postJson(READER, { name: 'docker_list_containers', args: {} }),
    );
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('UNAVAILABLE');
    expect(body.error.message).toMatch(/nonexistent\/docker\.sock.*DOCKER_HOST/);
  });
});

describe('host plugin: host reading (host.shell.read)', () => {
  // host_info and host_exec_readonly read the machine, not an engine: no engine needed.
  let bare: App;
  const call = (token: string, name: string, args: Record<string, unknown>) =>
    callTool(bare, token, name, args);

  beforeAll(async () => {
    ({ app: bare } = await createTestToolServer());
  });

  it('reports disks, memory, load and uptime', async () => {
    const { body } = await call(TEXT_ONLY, 'host_info', {});
    const disks = body.result.disks as { mountpoint: string; totalBytes: number }[];
    expect(disks.some((d) => d.mountpoint === '/' && d.totalBytes > 0)).toBe(true);
    expect((body.result.memory as { totalBytes: number }).totalBytes).toBeGreaterThan(0);
    expect(body.result.uptimeS).toBeGreaterThan(0);
  });

  it('runs only the fixed read-only commands with allowed arguments', async () => {
    const df = await call(TEXT_ONLY, 'host_exec_readonly', { command: 'df', args: ['-h', '-P'] });
    expect(df.body.result).toMatchObject({ exitCode: 0 });
    expect(String(df.body.result.stdout)).toContain('Filesystem');
    const ps = await call(TEXT_ONLY, 'host_exec_readonly', { command: 'ps' });
    expect(String(ps.body.result.stdout)).toContain('PID');
    const bad = await call(TEXT_ONLY, 'host_exec_readonly', { command: 'ps', args: ['eww'] });
    expect(bad.status).toBe(400);
    const notListed = await call(TEXT_ONLY, 'host_exec_readonly', {
      command: 'rm',
      args: ['-rf', '/'],
    });
    expect(notListed.status).toBe(400);
    expect((await call(READER, 'host_info', {})).status).toBe(403);
  });
});
