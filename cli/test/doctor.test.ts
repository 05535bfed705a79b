import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES } from '@datamancy/catalog';
import { createEngine, parseDotEnv } from '@datamancy/stack-discovery';
import { startPodman, type PodmanFixture } from '@datamancy/testkit';
import {
  caddyRunning,
  checkComposeTool,
  checkDisk,
  checkDns,
  checkMemory,
  checkPort,
  parseProfiles,
  PROFILE_REQUIREMENTS,
  requirementFor,
  type CheckResult,
} from '../src/commands/doctor.ts';
import { runCli, type CliResult } from './helpers.ts';

/**
 * `datamancy doctor` against real things: a stack dir made by `datamancy init`, a private
 * Podman API as the engine, the machine's own memory, disk, resolver and ports. The port
 * check's "taken" path runs on a loopback port the test occupies itself.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GIB = 2 ** 30;

interface Report {
  checks: CheckResult[];
  summary: { pass: number; warn: number; fail: number };
}

let work: string;
let stack: string;
let podman: PodmanFixture;

const doctor = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['doctor', '--dir', stack, ...args], { cwd: work, env });

function report(res: CliResult): Report {
  expect(res.stderr).toBe(''); // stderr is no TTY here: no progress
  const parsed = JSON.parse(res.stdout) as Report;
  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const c of parsed.checks) counts[c.status] += 1;
  expect(parsed.summary).toEqual(counts);
  // exit 1 exactly when a check failed (ports 80/443 may be taken on a developer's machine)
  expect(res.code).toBe(counts.fail > 0 ? 1 : 0);
  return parsed;
}

const check = (r: Report, name: string): CheckResult | undefined =>
  r.checks.find((c) => c.name === name);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'dm-doctor-'));
  stack = join(work, 'stack');
  cpSync(join(ROOT, 'stack', 'catalog.yaml'), join(stack, 'catalog.yaml'));
  const [init, fixture] = await Promise.all([
    runCli(['init', '--domain', 'example.test', '--dir', stack], { cwd: work }),
    startPodman(),
  ]);
  podman = fixture;
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
}, 60_000);

afterAll(async () => {
  await podman?.close();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('datamancy doctor', () => {
  it('passes the engine check against a real Podman API; fails (exit 1) with no engine', async () => {
    const ok = report(await doctor(['--json'], { DOCKER_HOST: podman.dockerHost }));
    expect(check(ok, '.env')).toMatchObject({ status: 'pass' });
    expect(check(ok, '.env')?.detail).toMatch(/defines all \d+ variables/);
    const engine = check(ok, 'container engine');
    expect(engine?.status).toBe('pass');
    expect(engine?.detail).toMatch(/^Podman Engine \d+\.\d+\.\d+ \(API [\d.]+\) at unix:\/\//);
    expect(engine?.detail).toContain(podman.socketPath);
    expect(check(ok, 'compose tool')?.status).toMatch(/^(pass|warn)$/);
    expect(ok.checks.map((c) => c.name).slice(0, 5)).toEqual([
      '.env',
      'container engine',
      'compose tool',
      'port 80',
      'port 443',
    ]);

    const missing = join(work, 'nope.sock');
    const res = await doctor(['--json'], { DOCKER_HOST: `unix://${missing}` });
    const down = report(res);
    expect(res.code).toBe(1);
    expect(check(down, 'container engine')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(missing) as unknown,
      hint: expect.stringContaining('DOCKER_HOST') as unknown,
    });
  });

  it('fails without .env, naming the fix, and skips DNS for want of a domain', async () => {
    const bare = join(work, 'bare');
    cpSync(join(ROOT, 'stack', 'catalog.yaml'), join(bare, 'catalog.yaml'));
    const res = await runCli(['doctor', '--dir', bare], {
      cwd: work,
      env: { DOCKER_HOST: podman.dockerHost },
    });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^✗ \.env +\S+\/bare\/\.env is missing$/m);
    expect(res.stdout).toMatch(/^ +→ run datamancy init --domain <your domain> --dir \S+bare$/m);
    expect(res.stdout).toMatch(/^! DNS +no DOMAIN/m);
    expect(res.stdout).toMatch(/^✓ container engine +Podman Engine/m);
    expect(res.stdout).toMatch(/\n\n\d+ passed, \d+ warnings, [1-9]\d* failed\n$/);
  });

  it('refuses an unknown profile with exit 2, listing the valid ones', async () => {
    const res = await doctor(['--profile', 'nope']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('unknown profile "nope"');
    expect(res.stderr).toContain(`valid: ${PROFILES.join(', ')}, all`);
    const mixed = await doctor(['--profile', 'bootstrap,nope2']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('"nope2"');
    // local is a stack of its own: alone, never mixed, never part of all
    expect(parseProfiles(['local'])).toEqual(['local']);
    expect(parseProfiles(['all'])).not.toContain('local');
    expect(() => parseProfiles(['local', 'databases'])).toThrow(
      'local is a stack of its own and cannot be combined with databases',
    );
    const both = await doctor(['--profile', 'local,bootstrap']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('cannot be combined with bootstrap');
  });

  it('sums RAM and disk over the selected profiles: all is the full 18 GB / 80 GB', async () => {
    const env = { DOCKER_HOST: podman.dockerHost };
    const all = report(await doctor(['--profile', 'all', '--json'], env));
    expect(check(all, 'memory')?.detail).toMatch(/^\d+\.\d GiB total; full needs 18\.0 GiB$/);
    expect(check(all, 'disk')?.detail).toMatch(/^\d+\.\d GiB free at \/\S+; full needs 80\.0 GiB$/);
    // the data dir of .env (./data) does not exist yet: the stack dir's own disk is measured
    expect(check(all, 'disk')?.detail).toContain(` at ${stack};`);
    expect(check(all, 'GPU')?.detail).toContain('vllm');
    // repeatable and comma-separated; bootstrap is always counted
    const two = report(
      await doctor(['--profile', 'databases', '--profile', 'applications', '--json'], env),
    );
    expect(check(two, 'memory')?.detail).toContain(
      'bootstrap+databases+applications needs 16.0 GiB',
    );
    expect(check(two, 'disk')?.detail).toContain('needs 60.0 GiB');
  });

  it('checks auth.<domain> and one more public name; special-use names only in the hosts file', async () => {
    // example.test is special-use (RFC 6761): no DNS query is sent for it
    const r = report(await doctor(['--json'], { DOCKER_HOST: podman.dockerHost }));
    const dns = r.checks.filter((c) => c.name.startsWith('DNS '));
    expect(dns.map((c) => c.name)).toEqual([
      'DNS auth.example.test',
      expect.stringMatching(/^DNS [a-z0-9-]+\.example\.test$/),
    ]);
    for (const c of dns) {
      expect(c.status).toBe('warn');
      expect(c.detail).toBe('not in /etc/hosts (a special-use name no DNS server answers)');
      expect(c.hint).toContain('auth.example.test');
    }
    const hosts = join(work, 'hosts');
    writeFileSync(
      hosts,
      '127.0.0.1 localhost\n192.0.2.7 auth.example.test lam.example.test # the cluster\n',
    );
    const fromFile = await checkDns(
      ['auth.example.test', 'wiki.example.test'],
      'example.test',
      3000,
      hosts,
    );
    expect(fromFile.map((c) => [c.status, c.detail])).toEqual([
      ['pass', `${hosts} gives 192.0.2.7`],
      ['warn', `not in ${hosts} (a special-use name no DNS server answers)`],
    ]);
    // other names go through the system resolver (localhost: answered by the hosts file)
    const [local] = await checkDns(['localhost'], 'localhost.localdomain');
    expect(local).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^resolves to (127\.0\.0\.1|::1)$/) as unknown,
    });
  });

  it('prints a table with hints, never a secret, and explains itself in --help', async () => {
    const res = await doctor([], { DOCKER_HOST: podman.dockerHost });
    expect(res.stdout).toMatch(/^✓ container engine +Podman Engine/m);
    expect(res.stdout).toMatch(/^(✓|!|✗) memory +\d+\.\d GiB total; bootstrap needs 8\.0 GiB$/m);
    expect(res.stdout).toMatch(/\n\d+ passed, \d+ warnings, \d+ failed\n$/);
    const env = parseDotEnv(readFileSync(join(stack, '.env'), 'utf8'));
    for (const value of Object.values(env).filter((v) => v.length >= 16))
      expect(res.stdout).not.toContain(value);
    const help = await runCli(['doctor', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--profile <name...>');
    expect(help.stdout).toContain('datamancy doctor --profile all');
  });
});

describe('doctor checks', () => {
  it('port check: a taken port fails, unless the running container caddy serves it', async () => {
    const holder: Server = createServer();
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
    const port = (holder.address() as { port: number }).port;
    const engine = () => createEngine(podman.dockerHost);
    try {
      const taken = await checkPort(port, {
        host: '127.0.0.1',
        servedByCaddy: () => caddyRunning(engine),
      });
      expect(taken).toMatchObject({
        name: `port ${String(port)}`,
        status: 'fail',
        detail: `port ${String(port)} is taken by another process`,
      });
      expect(taken.hint).toContain(`sport = :${String(port)}`);
      // a container named caddy runs on the engine: the port is the stack's own
      const image = await podman.importBusybox();
      await podman.cli(['run', '-d', '--name', 'caddy', image, 'sleep', '3600']);
      expect(await caddyRunning(engine)).toBe(true);
      const served = await checkPort(port, {
        host: '127.0.0.1',
        servedByCaddy: () => caddyRunning(engine),
      });
      expect(served).toMatchObject({ status: 'pass', detail: "served by the stack's caddy" });
      await podman.cli(['rm', '--force', '--time', '0', 'caddy']);
    } finally {
      await new Promise((done) => holder.close(done));
    }
    // released: free again, and checking closed it at once (a second check passes too)
    expect(await checkPort(port, { host: '127.0.0.1' })).toMatchObject({ status: 'pass' });
    expect(await checkPort(port, { host: '127.0.0.1' })).toMatchObject({ status: 'pass' });
  }, 60_000);

  it('memory: below the requirement warns down to 75 %, fails below', () => {
    const need = requirementFor(['bootstrap']);
    expect(need).toEqual({ ramGiB: 8, diskGiB: 20, label: 'bootstrap' });
    expect(checkMemory(8 * GIB, need).status).toBe('pass');
    const low = checkMemory(6.5 * GIB, need);
    expect(low).toMatchObject({ status: 'warn', detail: '6.5 GiB total; bootstrap needs 8.0 GiB' });
    expect(low.hint).toBeDefined();
    expect(checkMemory(6 * GIB, need).status).toBe('warn');
    expect(checkMemory(5.9 * GIB, need).status).toBe('fail');
  });

  it('requirements: the exported table sums to 18/80 for everything; a table can be injected', () => {
    expect(requirementFor(parseProfiles(['all']))).toEqual({
      ramGiB: 18,
      diskGiB: 80,
      label: 'full',
    });
    expect(Object.keys(PROFILE_REQUIREMENTS)).toEqual([...PROFILES]);
    const tiny = Object.fromEntries(PROFILES.map((p) => [p, { ramGiB: 0, diskGiB: 1 }])) as Record<
      (typeof PROFILES)[number],
      { ramGiB: number; diskGiB: number }
    >;
    expect(requirementFor(['databases'], tiny)).toEqual({
      ramGiB: 0,
      diskGiB: 2,
      label: 'bootstrap+databases',
    });
    expect(parseProfiles(undefined)).toEqual(['bootstrap']);
    expect(parseProfiles(['applications,databases', 'databases'])).toEqual([
      'databases',
      'applications',
    ]);
    expect(() => parseProfiles(['gpu'])).toThrow(/unknown profile "gpu"; valid: bootstrap/);
  });

  it('disk: below the requirement fails; the real free space is read with statfs', () => {
    const need = requirementFor(['bootstrap']);
    expect(checkDisk('/data', need, 19.94 * GIB)).toMatchObject({
      status: 'fail',
      detail: '19.9 GiB free at /data; bootstrap needs 20.0 GiB',
    });
    expect(checkDisk('/data', need, 20 * GIB).status).toBe('pass');
    const real = checkDisk(work, need);
    expect(real.detail).toMatch(/^\d+\.\d GiB free at /);
    expect(checkDisk(join(work, 'no', 'such', 'dir'), need).status).toBe('fail');
  });

  it('compose tool: the first command that answers; none is a warning', async () => {
    const found = await checkComposeTool([
      ['/nonexistent/docker-compose', 'version'],
      [process.execPath, '--version'],
    ]);
    expect(found).toMatchObject({
      status: 'pass',
      detail: `${process.execPath}: ${process.version}`,
    });
    const none = await checkComposeTool([['/nonexistent/docker-compose', 'version']]);
    expect(none.status).toBe('warn');
    expect(none.hint).toContain('install docker-compose-plugin');
  });
});
