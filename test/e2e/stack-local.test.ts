import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cachedDataRoot,
  lockStackSubnets,
  startDocker,
  waitFor,
  type DockerFixture,
} from '@datamancy/testkit';

/**
 * The local profile as a user runs it, on Docker Engine: `datamancy init`, `images build`
 * (cached in a data root outside the checkout), `up --profile local --local-images`, then the
 * stack is asked from outside only through Caddy's 127.0.0.1 port (TLS with the edge CA init
 * made) and faults are made inside it (a signal to Redis, a real OOM kill under its memory
 * limit) for the control plane inside the stack to find, heal and verify. Network isolation
 * is measured from containers on the stack's own networks. `down` must leave nothing.
 *
 * One setting differs from the defaults: PROBE_INTERVAL_S=5 in .env (default 30), so a
 * round sees a fault within seconds; the figures below are measured from the injection.
 * The daemon runs in a network namespace of its own with its iptables rules on (as in
 * production; the other daemons of the suite run without, to leave the host's rules alone):
 * Docker gives containers on an internal network a gateway and keeps them in by iptables, so
 * without its rules nothing would be isolated. Caddy's 127.0.0.1 port is reached from the
 * host through a relay socket into that namespace.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'datamancy.js');
/** What the local profile runs (the list): the edge, the stores, the control plane. */
const LOCAL_SERVICES = [
  'browser',
  'caddy',
  'docker-proxy',
  'ldap',
  'model-router',
  'postgres',
  'probe',
  'redis',
  'speech-gateway',
  'tool-server',
];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real `datamancy` bin, with only the engine's address from the test's environment. */
function runCli(args: string[], cwd: string, timeoutMs: number): Promise<CliResult> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(DATAMANCY_|COMPOSE_|PROBE_|DOMAIN$|DOCKER_HOST$)/.test(k),
    ),
  );
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...env, DOCKER_HOST: docker.dockerHost },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const DOMAIN = 'e2e.test';
const PROJECT = 'dme2e';

let docker: DockerFixture;
let unlockSubnets: (() => void) | undefined;
let work: string;
let httpsPort: number;
let httpPort: number;
/** Caddy's 127.0.0.1:httpsPort inside the daemon's namespace, as a socket on the host. */
let caddySocket: string;
let adminToken: string;
let built: CliResult;
let upResult: CliResult;
let upSeconds: number;
let volumesBefore: string[];
const figures: string[] = [];
let lastIncident = 0;
/** When the loop last acted on redis: its backoff (10 s after one action) runs from there. */
let lastActionAt = 0;

const cli = (args: string[], timeoutMs = 120_000) =>
  runCli([...args, '--dir', work], work, timeoutMs);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request to `status.<domain>` through Caddy's published 127.0.0.1 port only. */
function viaCaddy(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: caddySocket,
        servername: `status.${DOMAIN}`,
        path,
        method: options.method ?? 'GET',
        ca: readFileSync(join(work, 'secrets/edge-ca/root.crt')),
        headers: { host: `status.${DOMAIN}`, ...options.headers },
        timeout: 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 15 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

async function api<T>(path: string): Promise<T> {
  const res = await viaCaddy(path, { headers: { authorization: `Bearer ${adminToken}` } });
  if (res.status !== 200) throw new Error(`${path}: ${String(res.status)} ${res.body}`);
  return JSON.parse(res.body) as T;
}

interface ServiceView {
  name: string;
  state: string;
  checks: { check: string; status: string; message: string }[];
}
interface IncidentRow {
  id: number;
  service: string;
  status: string;
  stage: string;
  openedAt: number;
  resolvedAt: number | null;
  resolution: string | null;
  findings: { id: string; summary: string; evidence: string[] }[];
}
interface IncidentDetail {
  incident: IncidentRow;
  actions: { action: string; status: string; finishedAt: number | null; parameters: unknown }[];
  proposals: { action: string; status: string }[];
  timeline: { kind: string; message: string }[];
}

/** The first incident on `service` opened at or after `since`, then it resolved. */
async function incidentAfter(service: string, since: number): Promise<IncidentDetail> {
  const opened = await waitFor(
    `an incident on ${service}`,
    async () => {
      const { incidents } = await api<{ incidents: IncidentRow[] }>(
        `/incidents?service=${service}&status=all&limit=5`,
      );
      // a later incident than any seen before (the previous fault's resolved just now)
      return incidents.find((i) => i.openedAt >= since - 1000 && i.id > lastIncident);
    },
    90_000,
    250,
  ).catch(async (err: unknown) => {
    // what the probe saw meanwhile, for the failure's message
    const history = await api<{
      results: { startedAt: number; check: string; status: string; message: string }[];
    }>(`/services/${service}/history?limit=30`).catch(() => ({ results: [] }));
    const rounds = history.results
      .filter((r) => r.startedAt >= since - 10_000)
      .map((r) => `${seconds(since, r.startedAt)} s ${r.check} ${r.status}: ${r.message}`);
    const { incidents } = await api<{ incidents: IncidentRow[] }>(
      `/incidents?service=${service}&status=all&limit=5`,
    ).catch(() => ({ incidents: [] }));
    const logs = await docker.cli(['logs', '--tail', '15', 'probe']).catch(() => '');
    throw new Error(
      `${(err as Error).message}\nrestart count ${await inspect(service, '{{.RestartCount}}')}\nrounds:\n${rounds.join('\n')}\nincidents: ${JSON.stringify(incidents.map((i) => [i.id, i.stage, i.openedAt - since]))}\nprobe log:\n${logs}`,
      { cause: err },
    );
  });
  lastIncident = opened.id;
  try {
    return await waitFor(
      `incident ${String(opened.id)} to resolve`,
      async () => {
        const d = await api<IncidentDetail>(`/incidents/${String(opened.id)}`);
        return d.incident.status === 'resolved' ? d : undefined;
      },
      120_000,
      250,
    );
  } catch (err) {
    const d = await api<IncidentDetail>(`/incidents/${String(opened.id)}`).catch(() => undefined);
    const story = d?.timeline.map((e) => `${e.kind}: ${e.message}`).join('\n  ') ?? '';
    throw new Error(`${(err as Error).message}\n  ${story}`, { cause: err });
  }
}

/** An incident's timeline, one line per event (for a failure's message). */
const story = (d: IncidentDetail): string =>
  d.timeline.map((e) => `${e.kind}: ${e.message}`).join('\n');

const seconds = (from: number, to: number | null | undefined): string =>
  to === null || to === undefined ? '?' : ((to - from) / 1000).toFixed(1);

async function inspect(container: string, format: string): Promise<string> {
  return docker.cli(['inspect', '--format', format, container]);
}

/** Runs `script` in a throwaway container on one of the stack's networks; its output. */
async function from(network: string, script: string): Promise<string> {
  return docker
    .cli([
      'run',
      '--rm',
      '--network',
      `${PROJECT}_${network}`,
      'localhost/datamancy/bookworm:local',
      'bash',
      '-c',
      script,
    ])
    .catch((e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
}

beforeAll(async () => {
  unlockSubnets = await lockStackSubnets();
  // the images are built by a daemon on the host's network (the builds fetch npm packages)
  docker = await startDocker({ dataRoot: cachedDataRoot() });
  work = mkdtempSync(join(tmpdir(), 'dm-stack-'));
  cpSync(join(ROOT, 'stack', 'catalog.yaml'), join(work, 'catalog.yaml'));
  const buildStarted = Date.now();
  built = await cli(['images', 'build', '--profile', 'local'], 25 * 60_000);
  figures.push(`images build: ${seconds(buildStarted, Date.now())} s`);
  expect(built.code, built.stderr).toBe(0);
  await docker.close();
  // the stack runs on one in a network namespace of its own, iptables on: the networks are
  // kept apart as in production, the host's rules untouched
  docker = await startDocker({ dataRoot: cachedDataRoot(), ownNetworkNamespace: true });
  // inside the daemon's own namespace: any port is free there
  httpsPort = 8443;
  httpPort = 8080;
  const init = await cli([
    'init',
    '--domain',
    DOMAIN,
    '--project',
    PROJECT,
    '--data-dir',
    join(work, 'data'),
    '--bind',
    '127.0.0.1',
    '--http-port',
    String(httpPort),
    '--https-port',
    String(httpsPort),
    '--engine-socket',
    docker.socketPath,
  ]);
  expect(init.code, init.stderr).toBe(0);
  appendFileSync(join(work, '.env'), 'PROBE_INTERVAL_S=5\n');
  adminToken =
    /^DATAMANCY_API_TOKEN=(\S+)$/m.exec(readFileSync(join(work, '.env'), 'utf8'))?.[1] ?? '';
  volumesBefore = (await docker.cli(['volume', 'ls', '-q'])).split('\n').filter(Boolean);
  const upStarted = Date.now();
  upResult = await cli(['up', '--profile', 'local', '--local-images', '--timeout', '300'], 360_000);
  upSeconds = (Date.now() - upStarted) / 1000;
  figures.push(`up: ${upSeconds.toFixed(1)} s`);
  caddySocket = await docker.forward(httpsPort);
}, 35 * 60_000);

afterAll(async () => {
  if (figures.length > 0) process.stderr.write(`stack-local figures: ${figures.join('; ')}\n`);
  await docker?.close();
  unlockSubnets?.();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('the local profile on Docker Engine', () => {
  it('comes up phase by phase on the images built here, saying what the profile lacks', () => {
    expect(upResult.code, upResult.stderr).toBe(0);
    expect(upResult.stderr).toContain('note: no Authelia here');
    expect(upResult.stdout).toMatch(/^up: 10 services healthy in [\d.]+ s/m);
    for (const name of LOCAL_SERVICES)
      expect(upResult.stderr).toMatch(new RegExp(`✓ ${name}\\s+healthy`));
  });

  it('answers status.<domain> through Caddy alone, on 127.0.0.1, with the edge CA init made', async () => {
    const health = await viaCaddy('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', service: 'probe' });
    // a browser is sent to the dashboard's own login (no Authelia in this profile)
    const page = await viaCaddy('/', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe('/login');
    // the API wants a token
    expect((await viaCaddy('/services')).status).toBe(401);
    // only Caddy publishes a port, and only on 127.0.0.1
    const ids = (await docker.cli(['ps', '-q'])).split('\n').filter(Boolean);
    const published: string[] = [];
    for (const id of ids) {
      const ports = JSON.parse(await inspect(id, '{{json .NetworkSettings.Ports}}')) as Record<
        string,
        { HostIp: string; HostPort: string }[] | null
      >;
      for (const [port, bindings] of Object.entries(ports))
        for (const b of bindings ?? [])
          published.push(`${(await inspect(id, '{{.Name}}')).slice(1)} ${b.HostIp}:${port}`);
    }
    expect(published.sort()).toEqual(['caddy 127.0.0.1:443/tcp', 'caddy 127.0.0.1:80/tcp']);
    expect(await inspect('caddy', '{{json .HostConfig.PortBindings}}')).toContain(
      `"HostIp":"127.0.0.1","HostPort":"${String(httpsPort)}"`,
    );
  });

  it('has the probe inside the stack watch every service of the profile by its name, each up', async () => {
    const services = await waitFor(
      'every service up',
      async () => {
        const { services } = await api<{ services: ServiceView[] }>('/services');
        return services.every((s) => s.state === 'up') ? services : undefined;
      },
      180_000,
      1000,
    ).catch(async (err: unknown) => {
      const { services } = await api<{ services: ServiceView[] }>('/services');
      const bad = services
        .filter((s) => s.state !== 'up')
        .map((s) => `${s.name} ${s.state}: ${s.checks.map((c) => c.message).join('; ')}`);
      throw new Error(`${(err as Error).message}\n${bad.join('\n')}`, { cause: err });
    });
    expect(services.map((s) => s.name).sort()).toEqual([...LOCAL_SERVICES].sort());
    const probe = services.find((s) => s.name === 'probe');
    // its own public name through Caddy, by HTTP and in Chromium, with the edge CA
    expect(probe?.checks.map((c) => `${c.check}: ${c.status}`)).toEqual(
      expect.arrayContaining(['external: pass', 'page: pass', 'internal: pass']),
    );
  }, 200_000);

  it('finds a real crash of Redis (SIGSEGV inside it), and verifies what the engine brought back', async () => {
    const before = Number(await inspect('redis', '{{.RestartCount}}'));
    const t0 = Date.now();
    await docker.cli(['exec', 'redis', 'sh', '-c', 'kill -SEGV "$(pidof redis-server)"']);
    const detail = await incidentAfter('redis', t0);
    expect(Number(await inspect('redis', '{{.RestartCount}}'))).toBe(before + 1);
    expect(detail.incident.findings.map((f) => f.id)).toContain('engine-restarted');
    const done = detail.actions.find((a) => a.status === 'done');
    expect(done?.action, story(detail)).toBe('wait_for_health');
    expect(detail.incident.resolution).toBe('healed by wait_for_health, verified');
    lastActionAt = done?.finishedAt ?? Date.now();
    figures.push(
      `crash: detected ${seconds(t0, detail.incident.openedAt)} s, verified ${seconds(t0, detail.incident.resolvedAt)} s`,
    );
  }, 240_000);

  it('diagnoses a real OOM kill of Redis from Docker, raises its limit by scale_memory, verifies', async () => {
    const limit = Number(await inspect('redis', '{{.HostConfig.Memory}}'));
    expect(limit).toBe(256 * 2 ** 20);
    // Past the backoff the crash's action started (10 s): within it the loop defers the fix,
    // and the engine's restart makes the next round pass, so the incident resolves as
    // "recovered" with the limit unchanged (a gap of the incident lifecycle, issue 14).
    const wait = lastActionAt + 11_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = Date.now();
    // a Lua script inside redis-server that keeps allocating: the kernel kills it at 256 MiB
    const lua =
      "local t = {} for i = 1, 100000000 do t[i] = string.rep('x', 1024) .. i end return #t";
    const out = await docker
      .cli(['exec', 'redis', 'redis-cli', 'EVAL', lua, '0'])
      .catch((e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
    expect(out).not.toMatch(/^\(integer\)/m);
    const detail = await incidentAfter('redis', t0);
    expect(
      detail.incident.findings.map((f) => f.id),
      JSON.stringify({ findings: detail.incident.findings, timeline: detail.timeline }),
    ).toContain('oom-killed');
    const done = detail.actions.find((a) => a.status === 'done');
    expect(done?.action, story(detail)).toBe('scale_memory');
    expect(detail.incident.resolution).toBe('healed by scale_memory, verified');
    expect(Number(await inspect('redis', '{{.HostConfig.Memory}}'))).toBe(384 * 2 ** 20);
    figures.push(
      `oom: detected ${seconds(t0, detail.incident.openedAt)} s, healed ${seconds(t0, done?.finishedAt)} s, verified ${seconds(t0, detail.incident.resolvedAt)} s`,
    );
  }, 240_000);

  it('keeps the networks apart, measured from containers on them', async () => {
    const postgres = await inspect(
      'postgres',
      `{{(index .NetworkSettings.Networks "${PROJECT}_database").IPAddress}}`,
    );
    const caddy = await inspect(
      'caddy',
      `{{(index .NetworkSettings.Networks "${PROJECT}_backend").IPAddress}}`,
    );
    const connect = (host: string, port: number) =>
      `if timeout 3 bash -c '</dev/tcp/${host}/${String(port)}' 2>/dev/null; then echo open; else echo closed; fi`;
    const resolve = (name: string) => `getent hosts ${name} >/dev/null && echo found || echo none`;
    // on frontend only: no name for postgres, no way to it; caddy is there
    expect(await from('frontend', resolve('postgres'))).toBe('none');
    expect(await from('frontend', connect(postgres, 5432))).toBe('closed');
    expect(await from('frontend', connect('caddy', 443))).toBe('open');
    // on database only: postgres is there; caddy neither by name nor by address
    expect(await from('database', connect('postgres', 5432))).toBe('open');
    expect(await from('database', resolve('caddy'))).toBe('none');
    expect(await from('database', connect(caddy, 443))).toBe('closed');
  }, 120_000);

  it('takes it all down: no container, network or anonymous volume is left', async () => {
    const res = await cli(['down']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('down: 10 container(s) removed');
    expect(
      await docker.cli(['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`]),
    ).toBe('');
    const networks = (await docker.cli(['network', 'ls', '--format', '{{.Name}}'])).split('\n');
    expect(networks.filter((n) => n.startsWith(`${PROJECT}_`))).toEqual([]);
    const volumes = (await docker.cli(['volume', 'ls', '-q'])).split('\n').filter(Boolean);
    expect(volumes.filter((v) => !volumesBefore.includes(v))).toEqual([]);
  }, 120_000);
});
