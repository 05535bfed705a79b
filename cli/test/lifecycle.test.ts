import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { parseDotEnv } from '@datamancy/stack-discovery';
import { lockStackSubnets, startPodman, type PodmanFixture } from '@datamancy/testkit';
import { runCli } from './helpers.ts';

/**
 * `datamancy volumes | up | status | logs | down` end to end: a small catalog of busybox
 * services rendered and initialised like the real one, brought up on a real Podman API in
 * phase order with health waits (Podman runs no healthchecks here: up runs them itself).
 */

let podman: PodmanFixture;
let repo: string;
let work: string;
let engine: DockerEngine;
let env: Record<string, string>;

const cli = (...args: string[]) =>
  runCli([...args, '--dir', work], {
    cwd: work,
    env: { DOCKER_HOST: podman.dockerHost },
    timeoutMs: 80_000,
  });

function catalogYaml(image: string): string {
  const hc = (test: string) =>
    `{ test: [CMD-SHELL, '${test}'], interval: 1s, timeout: 2s, retries: 3, startPeriod: 0s }`;
  return `version: 1
identity:
  baseDn: dc=test
  groups: [{ name: users, description: everyone }]
  users: [{ uid: ann, name: Ann Example, groups: [users] }]
services:
  - name: db
    description: a database that takes a moment
    image: ${image}
    profiles: [databases]
    phase: 0
    networks: [database]
    user: '1000:1000'
    command: [sh, -c, 'trap "exit 0" TERM; sleep 1; touch /data/ready /data/marker; echo db ready; sleep 600 & wait']
    healthcheck: ${hc('test -f /data/ready')}
    volumes: [db-data:/data]
    environment: { DB_PASSWORD: '\${DB_PASSWORD}' }
  - name: app
    user: '1000:1000'
    description: an application on the database
    image: ${image}
    profiles: [applications]
    phase: 5
    networks: [backend, database]
    command: [sh, -c, 'trap "exit 0" TERM; echo app up; sleep 600 & wait']
    healthcheck: ${hc('true')}
    dependsOn: [db]
  - name: web
    user: '1000:1000'
    description: our own image, built by up
    image: datamancy/test-web:1
    profiles: [bootstrap_vector_dbs]
    phase: 4
    networks: [backend]
    command: [sh, -c, 'trap "exit 0" TERM; cat /greeting.txt; sleep 600 & wait']
    healthcheck: ${hc('test -f /greeting.txt')}
  - name: broken
    user: '1000:1000'
    description: never healthy
    image: ${image}
    profiles: [infrastructure]
    phase: 5
    networks: [backend]
    command: [sh, -c, 'trap "exit 0" TERM; echo trying; sleep 600 & wait']
    healthcheck: ${hc('echo not ready; false')}
`;
}

/** A GET on the engine's own API socket (never traffic to a container). */
function engineGet(path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: podman.socketPath, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end();
  });
}

let unlockSubnets: (() => void) | undefined;

beforeAll(async () => {
  // the rendered networks' fixed subnets: one stack at a time on this machine
  unlockSubnets = await lockStackSubnets();
  podman = await startPodman();
  const image = await podman.importBusybox();
  engine = new DockerEngine(resolveEndpoint(podman.dockerHost));
  // a repository with a Dockerfile beside its stack, as this one
  repo = mkdtempSync(join(tmpdir(), 'dm-up-'));
  work = join(repo, 'stack');
  mkdirSync(work);
  writeFileSync(join(work, 'catalog.yaml'), catalogYaml(image));
  writeFileSync(
    join(repo, 'Dockerfile'),
    `FROM ${image} AS test-web\nCOPY greeting.txt /greeting.txt\n`,
  );
  writeFileSync(join(repo, 'greeting.txt'), 'built from the repository\n');
  writeFileSync(join(repo, '.gitignore'), 'stack/.env\nstack/data/\n');
  execFileSync('git', ['init', '-q', repo]);
  const init = await runCli(['init', '--dir', work, '--domain', 'test.internal'], { cwd: work });
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  env = parseDotEnv(readFileSync(join(work, '.env'), 'utf8'));
}, 25 * 60_000); // may wait for the stack subnets

afterAll(async () => {
  await podman?.close();
  unlockSubnets?.();
  if (repo !== undefined) rmSync(repo, { recursive: true, force: true });
});

describe('datamancy up / status / logs / down', () => {
  it('creates the data directories with their owners', async () => {
    const res = await cli('volumes', '--profile', 'applications');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^created\s+1000:1000\s+\S+\/data\/db-data$/m);
    const st = statSync(join(work, 'data', 'db-data'));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    const again = await cli('volumes', '--profile', 'applications');
    expect(again.stdout).toMatch(/^kept\s+1000:1000/m);
  });

  it('starts the profile in phase order, each service after its dependency is healthy', async () => {
    const res = await cli('up', '--profile', 'applications', '--timeout', '60');
    expect(res.code, res.stderr).toBe(0);
    const err = res.stderr;
    expect(err).toContain('applications → 2 services');
    expect(err.indexOf('phase 0: db')).toBeLessThan(err.indexOf('✓ db'));
    expect(err.indexOf('✓ db')).toBeLessThan(err.indexOf('phase 5: app'));
    expect(err).toMatch(/✓ db\s+healthy\s+created/);
    expect(res.stdout).toMatch(/^up: 2 services healthy in [\d.]+ s \(2 created\)$/m);
    // what the engine was asked for
    const app = await engine.inspect('app');
    expect(app.networks.sort()).toEqual(['datamancy_backend', 'datamancy_database']);
    expect(app.labels['com.docker.compose.project']).toBe('datamancy');
    expect(app.labels['com.docker.compose.depends_on']).toBe('db:service_healthy:false');
    const db = await engine.inspect('db');
    expect(db.networks).toEqual(['datamancy_database']);
    const secret = await engine.exec('db', ['sh', '-c', 'echo "$DB_PASSWORD"'], {
      timeoutMs: 5000,
      maxOutputBytes: 1024,
    });
    expect(secret.stdout.trim()).toBe(env.DB_PASSWORD);
    expect(statSync(join(work, 'data', 'db-data', 'marker')).uid).toBe(1000); // ran as 1000, wrote its bind mount
    // backend's dynamic range, as the compose file gives it: the engine hands out addresses
    // from 172.21.0.128/25 only, the first one included (Podman's network inspect does not
    // report the range). The edge's fixed address lies below it; Podman's CNI backend here
    // refuses a fixed address outside the range, so that part is planned (plan.test), not run.
    const raw = (await engineGet('/containers/app/json')) as {
      NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
    };
    expect(raw.NetworkSettings.Networks.datamancy_backend?.IPAddress).toMatch(
      /^172\.21\.0\.(1(2[89]|[3-9]\d)|2[0-5]\d)$/,
    );
    const nets = await engine.listNetworks({ 'com.docker.compose.project': 'datamancy' });
    expect(nets.find((n) => n.name === 'datamancy_database')).toMatchObject({
      internal: true,
      subnets: ['172.22.0.0/24'],
    });
  }, 90_000);

  it('leaves unchanged services alone and recreates a changed one', async () => {
    const before = (await engine.inspect('app')).id;
    const same = await cli('up', '--profile', 'applications', '--timeout', '60');
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain('(2 running)');
    expect((await engine.inspect('app')).id).toBe(before);

    const rotate = await runCli(['secrets', 'rotate', 'DB_PASSWORD', '--dir', work], { cwd: work });
    expect(rotate.code).toBe(0);
    const changed = await cli('up', '--profile', 'applications', '--timeout', '60');
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).toMatch(/✓ db\s+healthy\s+recreated/);
    expect(changed.stdout).toContain('1 recreated, 1 running');
    const fresh = parseDotEnv(readFileSync(join(work, '.env'), 'utf8'));
    const secret = await engine.exec('db', ['sh', '-c', 'echo "$DB_PASSWORD"'], {
      timeoutMs: 5000,
      maxOutputBytes: 1024,
    });
    expect(secret.stdout.trim()).toBe(fresh.DB_PASSWORD);
  }, 90_000);

  it('reports status and logs', async () => {
    const status = await cli('status', '--profile', 'applications');
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^✓ db\s+0\s+running\s+/m);
    expect(status.stdout).toContain('2/2 up');
    const json = await cli('status', '--profile', 'all', '--json');
    expect(json.code).toBe(3); // broken is not created
    const doc = JSON.parse(json.stdout) as { services: { service: string; state: string }[] };
    expect(doc.services.find((s) => s.service === 'broken')?.state).toBe('not created');
    const logs = await cli('logs', 'app');
    expect(logs.stdout).toContain('app up');
    const unknown = await cli('logs', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown service "nope"');
  }, 30_000);

  it('builds our own missing image from the Dockerfile beside the stack, then runs it', async () => {
    const res = await cli('up', '--profile', 'bootstrap_vector_dbs', '--timeout', '60');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('building datamancy/test-web:1 (stage test-web of');
    expect(res.stderr).toMatch(/✓ web\s+healthy\s+created/);
    const logs = await cli('logs', 'web');
    expect(logs.stdout).toContain('built from the repository');
    const noBuild = await cli(
      'up',
      '--profile',
      'bootstrap_vector_dbs',
      '--no-build',
      '--pull',
      'never',
    );
    expect(noBuild.code).toBe(0); // present now: nothing to build or pull
    expect(noBuild.stderr).toMatch(/✓ web\s+healthy\s+running/);
    // the image rebuilt under the same tag: the same settings, a new image, so recreated
    writeFileSync(join(repo, 'greeting.txt'), 'rebuilt under the same tag\n');
    await podman.cli(['build', '--target', 'test-web', '-t', 'datamancy/test-web:1', repo]);
    const rebuilt = await cli('up', '--profile', 'bootstrap_vector_dbs', '--pull', 'never');
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stderr).toMatch(/✓ web\s+healthy\s+recreated/);
    expect((await cli('logs', 'web')).stdout).toContain('rebuilt under the same tag');
  }, 120_000);

  it('stops at a service that never gets healthy, with its logs, exit 1', async () => {
    const res = await cli('up', '--profile', 'infrastructure', '--timeout', '6');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/✗ broken\s+unhealthy: not ready/);
    expect(res.stderr).toContain('| trying');
  }, 30_000);

  it('refuses bad input with exit 2 and an unreachable engine with exit 1', async () => {
    for (const [args, message] of [
      [['up', '--timeout', 'soon'], '--timeout: "soon" is not a number of seconds'],
      [['up', '--pull', 'sometimes'], '--pull: "sometimes" is not missing or never'],
      [['up', '--profile', 'everything'], '--profile: unknown profile "everything"'],
      [['down', 'nope'], 'unknown service "nope"'],
      [
        ['up', '--local-images'],
        '--local-images: only the local profile runs on images built here',
      ],
      [['up', '--profile', 'local,bootstrap'], 'local is a stack of its own'],
    ] as const) {
      const res = await cli(...args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toContain(message);
    }
    const gone = await runCli(['status', '--dir', work], {
      cwd: work,
      env: { DOCKER_HOST: `unix://${join(work, 'no.sock')}` },
    });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('no container engine reachable');
  }, 30_000);

  it('takes everything down, latest phase first, and keeps the data', async () => {
    const res = await cli('down');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr.indexOf('app')).toBeLessThan(res.stderr.indexOf('db '));
    expect(res.stdout).toMatch(/^down: 4 container\(s\) removed$/m); // app, db, web, broken
    expect(await engine.list({ all: true })).toEqual([]);
    expect(await engine.listNetworks({ 'com.docker.compose.project': 'datamancy' })).toEqual([]);
    expect(statSync(join(work, 'data', 'db-data', 'marker')).isFile()).toBe(true);
    const status = await cli('status', '--profile', 'applications');
    expect(status.code).toBe(3);
    expect(status.stdout).toContain('0/2 up');
  }, 60_000);
});
