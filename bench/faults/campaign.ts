/**
 * The fault-injection campaign: a small stack of real containers on Podman or Docker Engine
 * (local busybox image,
 * ports published on 127.0.0.1), watched and healed by the real control plane — the tool
 * server and the probe, each in its own process, run from their bundles — while faults are
 * injected one at a time. Used by `bench/faults/run.ts` (the full campaign, written to
 * docs/benchmarks.md) and by `test/e2e/faults.test.ts` (a short form in CI).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProbeClient, type IncidentDetail, type IncidentInfo } from '@datamancy/clients';
import { CAPABILITIES, generateToken } from '@datamancy/core';
import {
  publishPort,
  startEngine,
  waitFor,
  type EngineFixture,
  type EngineKind,
} from '@datamancy/testkit';
import { startServiceProcess, type ServiceChild } from '../shared/process.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const FAULTS = [
  'crash',
  'oom-kill',
  'hang',
  'http-500',
  'dependency',
  'needs-review',
  'operator-stop',
  'flapping',
  'sigkill',
] as const;
export type FaultKind = (typeof FAULTS)[number];

/** Faults whose fix the policy runs on its own. */
export const SAFE_FAULTS: readonly FaultKind[] = [
  'crash',
  'oom-kill',
  'hang',
  'http-500',
  'dependency',
  'sigkill',
];

export interface FaultResult {
  engine: EngineKind;
  fault: FaultKind;
  run: number;
  target: string;
  /** Seconds from injection to the incident opening. */
  detectedS: number | null;
  /** Seconds from injection to the repair action finishing. */
  healedS: number | null;
  /** Seconds from injection to the verified resolution. */
  verifiedS: number | null;
  /** Repair actions taken on the target during the fault. */
  actions: number;
  /** Approvals (or other human steps) the fault needed. */
  humanTouches: number;
  /** What happened, in words. */
  outcome: string;
  ok: boolean;
}

export interface CampaignOptions {
  /** The engine the stack runs on (default podman). */
  engine?: EngineKind;
  faults: readonly FaultKind[];
  repeats: number;
  /** Check interval of every service (the goals are stated at 5 s). */
  intervalS?: number;
  /** How long the flapping service is watched. */
  flapWatchS?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The service inside each container: busybox httpd with a CGI health endpoint, steered by
 * flag files. One-shot faults live on the /run tmpfs (a restart brings a fresh one, DESIGN
 * §5); flapping lives in /ctl, a host directory, so it survives restarts.
 */
const SERVICE_SCRIPT = `
mkdir -p /www/cgi-bin
cat > /www/cgi-bin/health <<'CGI'
#!/bin/sh
if [ -f /run/hang ]; then sleep 3600; fi
if [ -f /run/error ]; then
  echo "ERROR: database pool exhausted (SQLSTATE 53300)" > /proc/1/fd/1
  printf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nInternal Server Error\\n'
  exit 0
fi
printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'
CGI
chmod +x /www/cgi-bin/health
echo ok > /www/index.html
httpd -p 8080 -h /www
echo "service: listening on 8080"
while true; do
  if [ -f /run/crash ]; then echo "FATAL: worker crashed"; exit 1; fi
  # a real OOM kill: tail buffers an endless line until the kernel kills it at the memory
  # limit; the shell (PID 1) then exits with its status, 137
  if [ -f /run/oom ]; then echo "allocating"; tail /dev/zero; exit $?; fi
  if [ -f /ctl/flap ]; then sleep 3; echo "FATAL: flapping"; exit 1; fi
  sleep 0.2
done
`;

interface StackService {
  name: string;
  port: number;
  ctl: string;
}

export interface Campaign {
  results: FaultResult[];
  close(): Promise<void>;
}

/** Runs the campaign; always cleans up (containers, processes, temp dirs). */
export async function runCampaign(options: CampaignOptions): Promise<FaultResult[]> {
  const log = options.log ?? (() => undefined);
  const intervalS = options.intervalS ?? 5;
  const root = mkdtempSync(join(tmpdir(), 'dm-faults-'));
  const token = generateToken();
  let podman: EngineFixture | undefined;
  const kind = options.engine ?? 'podman';
  let tools: ServiceChild | undefined;
  let probe: ServiceChild | undefined;
  const results: FaultResult[] = [];
  try {
    log('bundling the tool server and the probe…');
    execFileSync(
      process.execPath,
      ['--import', 'tsx', 'scripts/bundle.ts', 'tool-server', 'probe'],
      { cwd: REPO_ROOT, stdio: 'ignore' },
    );
    podman = await startEngine(kind);
    const image = await podman.importBusybox();
    // One container per kind of safe fault, so the restart budget of one does not bleed into
    // the next; app takes the crash and the SIGKILL.
    const names = ['db', 'app', 'worker', 'cache', 'api', 'vault', 'ops', 'flappy'];
    const stack = new Map<string, StackService>();
    // the test daemons of Docker run without a default bridge: the stack gets a network of its
    // own (the fixture removes it); Podman's default network is its own already
    const network: string[] = [];
    if (kind === 'docker') {
      await podman.cli(['network', 'create', 'dm-faults']);
      network.push('--network', 'dm-faults');
    }
    for (const name of names) {
      const ctl = join(root, 'ctl', name);
      mkdirSync(ctl, { recursive: true });
      const port = await publishPort();
      await podman.cli([
        'run',
        '-d',
        '--name',
        name,
        '--tmpfs',
        '/run',
        '-v',
        `${ctl}:/ctl`,
        '-p',
        `127.0.0.1:${port}:8080`,
        // the worker takes the OOM kill: a memory limit for the kernel to enforce
        ...(name === 'worker' ? ['--memory', '64m', '--memory-swap', '64m'] : []),
        ...network,
        image,
        'sh',
        '-c',
        SERVICE_SCRIPT,
      ]);
      stack.set(name, { name, port, ctl });
    }
    const svc = (name: string): StackService => {
      const s = stack.get(name);
      if (s === undefined) throw new Error(`no stack service ${name}`);
      return s;
    };
    const health = (name: string) => ({
      kind: 'http',
      name: 'health',
      url: `http://127.0.0.1:${svc(name).port}/cgi-bin/health`,
      keyword: 'ok',
      timeoutMs: 2000,
    });
    const manifest = {
      defaults: { intervalS, retries: 0, timeoutMs: 2000 },
      services: [
        { name: 'db', container: 'db', checks: [health('db'), { kind: 'container' }] },
        {
          name: 'app',
          container: 'app',
          dependsOn: ['db'],
          // the app cannot serve without its database: its own check also needs db's port
          checks: [
            health('app'),
            { kind: 'tcp', name: 'db-port', host: '127.0.0.1', port: svc('db').port },
            { kind: 'container' },
          ],
        },
        ...['worker', 'cache', 'api', 'vault'].map((name) => ({
          name,
          container: name,
          checks: [health(name), { kind: 'container' }],
        })),
        { name: 'ops', container: 'ops', checks: [health('ops'), { kind: 'container' }] },
        { name: 'flappy', container: 'flappy', checks: [health('flappy'), { kind: 'container' }] },
      ],
    };
    const dataDir = join(root, 'probe-data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(root, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(
      join(root, 'datamancy.json'),
      JSON.stringify({
        probe: {
          startupSpreadS: 1,
          heal: {
            services: { vault: { actions: { start: 'needs_review', restart: 'needs_review' } } },
            // the campaign's window is short so repeated runs start with a whole budget
            restartBudget: { max: 3, windowS: 120 },
            backoff: { baseS: 5, factor: 2, maxS: 60 },
            verify: { timeoutS: 30, intervalS: 1 },
          },
        },
      }),
    );
    tools = await startServiceProcess(REPO_ROOT, {
      name: 'tool-server',
      args: ['services/tool-server/dist/tool-server.mjs'],
      readyMsg: 'tool-server listening',
      env: {
        DATAMANCY_API_TOKEN: token,
        DATAMANCY_DATA_DIR: join(root, 'tools-data'),
        TOOLSERVER_PORT: '0',
        DATAMANCY_HOST: '127.0.0.1',
        DOCKER_HOST: podman.dockerHost,
        KFUNCDB_ALLOW_CAPS: CAPABILITIES.join(','),
      },
    });
    const toolsUrl = tools.url;
    const startProbe = (): Promise<ServiceChild> =>
      startServiceProcess(REPO_ROOT, {
        name: 'probe',
        args: ['services/probe/dist/probe.mjs'],
        readyMsg: 'probe listening',
        env: {
          DATAMANCY_API_TOKEN: token,
          DATAMANCY_DATA_DIR: dataDir,
          DATAMANCY_CONFIG: join(root, 'datamancy.json'),
          SERVICES_MANIFEST_PATH: join(root, 'manifest.json'),
          PROBE_PORT: '0',
          DATAMANCY_HOST: '127.0.0.1',
          KFUN_URL: toolsUrl,
          KFUN_TOKEN: token,
        },
      });
    probe = await startProbe();
    let client = new ProbeClient({ baseUrl: probe.url, token, timeoutMs: 120_000 });
    const pod = podman;

    const allUp = (): Promise<true> =>
      waitFor(
        'every service up',
        async () => {
          const { services } = await client.services();
          return services.every((s) => s.state === 'up') ? true : undefined;
        },
        90_000,
      );
    let lastIncident = 0;
    const newIncident = (service: string, since: number, ms = 60_000): Promise<IncidentInfo> =>
      waitFor(
        `an incident on ${service}`,
        async () => {
          const { incidents } = await client.incidents({ service, status: 'all', limit: 5 });
          return incidents.find((i) => i.id > lastIncident && i.openedAt >= since - 1000);
        },
        ms,
      );
    const resolved = async (id: number, ms = 90_000): Promise<IncidentDetail> => {
      try {
        return await waitFor(
          `incident ${id} to resolve`,
          async () => {
            const d = await client.incident(id);
            return d.incident.status === 'resolved' ? d : undefined;
          },
          ms,
        );
      } catch (err) {
        // say where it got stuck
        const d = await client.incident(id).catch(() => undefined);
        const story =
          d === undefined
            ? ''
            : `\n${d.incident.service} ${d.incident.stage}: ${d.timeline.map((e) => `${e.kind}: ${e.message}`).join('\n  ')}`;
        throw new Error(`${(err as Error).message}${story}`, { cause: err });
      }
    };
    /** Runs argv in the container once it runs, saying what state it is in otherwise. */
    const exec = async (name: string, ...argv: string[]): Promise<string> => {
      await waitFor(
        `${name} running`,
        async () => {
          const state = (await pod.cli(['inspect', '--format', '{{.State.Status}}', name])).trim();
          if (state !== 'running') log(`  (${name} is ${state})`);
          return state === 'running' ? true : undefined;
        },
        30_000,
      );
      return pod.cli(['exec', name, ...argv]);
    };
    const actionsOn = async (service: string, since: number): Promise<number> => {
      const { incidents } = await client.incidents({ service, status: 'all', limit: 50 });
      let n = 0;
      for (const i of incidents.filter((x) => x.openedAt >= since - 1000)) {
        n += (await client.incident(i.id)).actions.filter((a) => a.status !== 'interrupted').length;
      }
      return n;
    };
    const seconds = (from: number, to: number | null | undefined): number | null =>
      to === null || to === undefined ? null : Math.round((to - from) / 100) / 10;

    /** A safe fault on `target`: inject, wait for the incident, its resolution, and measure. */
    const safeFault = async (
      fault: FaultKind,
      run: number,
      target: string,
      inject: () => Promise<unknown>,
      extra?: (t0: number) => Promise<Partial<FaultResult>>,
    ): Promise<FaultResult> => {
      const t0 = Date.now();
      await inject();
      const incident = await newIncident(target, t0);
      lastIncident = Math.max(lastIncident, incident.id);
      const detail = await resolved(incident.id);
      const done = detail.actions.find((a) => a.status === 'done');
      const more = extra === undefined ? {} : await extra(t0);
      const healed = detail.incident.resolution?.startsWith('healed') === true;
      return {
        engine: kind,
        fault,
        run,
        target,
        detectedS: seconds(t0, incident.openedAt),
        healedS: seconds(t0, done?.finishedAt),
        verifiedS: seconds(t0, detail.incident.resolvedAt),
        actions: detail.actions.filter((a) => a.status !== 'interrupted').length,
        humanTouches: 0,
        outcome: `${detail.incident.findings.map((f) => f.id).join('+') || '?'} → ${detail.proposals.map((p) => p.action).join(', ')} → ${detail.incident.resolution ?? '?'}`,
        ok: healed,
        ...more,
      };
    };

    await allUp();
    log(
      'stack up: db, app (depends on db), worker, cache, api, vault (fixes need review), ops, flappy',
    );
    for (let run = 1; run <= options.repeats; run++) {
      for (const fault of options.faults) {
        await allUp();
        log(`run ${run}: ${fault}…`);
        let result: FaultResult;
        switch (fault) {
          case 'crash':
            result = await safeFault(fault, run, 'app', () => exec('app', 'touch', '/run/crash'));
            break;
          case 'oom-kill':
            result = await safeFault(fault, run, 'worker', () =>
              exec('worker', 'touch', '/run/oom'),
            );
            break;
          case 'hang':
            result = await safeFault(fault, run, 'cache', () =>
              exec('cache', 'touch', '/run/hang'),
            );
            break;
          case 'http-500':
            result = await safeFault(fault, run, 'api', () => exec('api', 'touch', '/run/error'));
            break;
          case 'dependency': {
            // db goes down; app fails with it but is blocked by db, never touched
            const t0 = Date.now();
            result = await safeFault(
              fault,
              run,
              'db',
              () => exec('db', 'touch', '/run/crash'),
              async () => {
                const appActions = await actionsOn('app', t0);
                return appActions === 0
                  ? {}
                  : { ok: false, outcome: `${appActions} action(s) on the blocked dependent app` };
              },
            );
            break;
          }
          case 'needs-review': {
            const t0 = Date.now();
            await exec('vault', 'touch', '/run/crash');
            const incident = await newIncident('vault', t0);
            lastIncident = Math.max(lastIncident, incident.id);
            const pending = await waitFor(
              'the approval request',
              async () => {
                const { approvals } = await client.approvals();
                return approvals.find((a) => a.incidentId === incident.id);
              },
              30_000,
            );
            await sleep(2 * intervalS * 1000); // it waits: nothing runs without a person
            const before = await client.incident(incident.id);
            const waited =
              before.actions.length === 0 && before.incident.stage === 'awaiting_approval';
            await client.approve(pending.id);
            const detail = await resolved(incident.id);
            const done = detail.actions.find((a) => a.status === 'done');
            result = {
              engine: kind,
              fault,
              run,
              target: 'vault',
              detectedS: seconds(t0, incident.openedAt),
              healedS: seconds(t0, done?.finishedAt),
              verifiedS: seconds(t0, detail.incident.resolvedAt),
              actions: detail.actions.length,
              humanTouches: 1,
              outcome: `${waited ? 'waited for approval' : 'DID NOT WAIT'} → approved → ${detail.incident.resolution ?? '?'}`,
              ok: waited && detail.incident.resolution?.startsWith('healed') === true,
            };
            break;
          }
          case 'operator-stop': {
            const t0 = Date.now();
            await pod.cli(['stop', '--time', '2', 'ops']);
            const incident = await newIncident('ops', t0);
            lastIncident = Math.max(lastIncident, incident.id);
            await sleep(3 * intervalS * 1000); // several rounds: still hands off
            const detail = await client.incident(incident.id);
            const handsOff = detail.incident.findings.some((f) => f.id === 'operator-stopped');
            result = {
              engine: kind,
              fault,
              run,
              target: 'ops',
              detectedS: seconds(t0, incident.openedAt),
              healedS: null,
              verifiedS: null,
              actions: detail.actions.length,
              humanTouches: 1,
              outcome: `${handsOff ? 'operator stop recognised' : 'NOT recognised'}; ${detail.actions.length} action(s); operator starts it again`,
              ok: handsOff && detail.actions.length === 0,
            };
            await pod.cli(['start', 'ops']);
            break;
          }
          case 'flapping': {
            const t0 = Date.now();
            const watch = (options.flapWatchS ?? 90) * 1000;
            writeFileSync(join(svc('flappy').ctl, 'flap'), 'on\n');
            await sleep(watch);
            const actions = await actionsOn('flappy', t0);
            const { incidents } = await client.incidents({
              service: 'flappy',
              status: 'all',
              limit: 50,
            });
            const recent = incidents.filter((i) => i.openedAt >= t0 - 1000);
            let circuit = false;
            for (const i of recent) {
              if (
                (await client.incident(i.id)).timeline.some(
                  (e) => e.kind === 'notified' && /circuit_open/.test(e.message),
                )
              )
                circuit = true;
            }
            lastIncident = Math.max(lastIncident, ...recent.map((i) => i.id));
            rmSync(join(svc('flappy').ctl, 'flap'), { force: true });
            await pod.cli(['start', 'flappy']).catch(() => '');
            result = {
              engine: kind,
              fault,
              run,
              target: 'flappy',
              detectedS:
                recent.length === 0
                  ? null
                  : seconds(t0, Math.min(...recent.map((i) => i.openedAt))),
              healedS: null,
              verifiedS: null,
              actions,
              humanTouches: 1,
              outcome: `${recent.length} incident(s), ${actions} action(s) in ${Math.round(watch / 1000)} s, circuit breaker ${circuit ? 'opened' : 'did not open'}; operator clears it`,
              ok: actions <= 3 && circuit,
            };
            break;
          }
          case 'sigkill': {
            const t0 = Date.now();
            await exec('app', 'touch', '/run/crash');
            const incident = await newIncident('app', t0);
            lastIncident = Math.max(lastIncident, incident.id);
            // kill the control plane the moment the repair is recorded as started
            const caught = await waitFor(
              'the action to start',
              async () => {
                const d = await client.incident(incident.id);
                if (d.actions.some((a) => a.status === 'started')) return 'mid-action';
                if (d.actions.some((a) => a.status === 'done')) return 'after the action';
                return undefined;
              },
              60_000,
            );
            process.kill(probe.pid, 'SIGKILL');
            await sleep(200);
            probe = await startProbe();
            client = new ProbeClient({ baseUrl: probe.url, token, timeoutMs: 120_000 });
            const detail = await resolved(incident.id);
            const starts = (
              await pod.cli([
                'events',
                // not a stream: Podman's --stream=false, Docker's --until now
                ...(kind === 'podman' ? ['--stream=false'] : ['--until', new Date().toISOString()]),
                '--since',
                new Date(t0).toISOString(),
                '--filter',
                'container=app',
                '--filter',
                'event=start',
                '--format',
                '{{.Status}}',
              ])
            )
              .split('\n')
              .filter((l) => l.trim() !== '').length;
            result = {
              engine: kind,
              fault,
              run,
              target: 'app',
              detectedS: seconds(t0, incident.openedAt),
              healedS: seconds(t0, detail.actions.find((a) => a.status === 'done')?.finishedAt),
              verifiedS: seconds(t0, detail.incident.resolvedAt),
              actions: starts,
              humanTouches: 0,
              outcome: `SIGKILL ${caught}; engine saw ${starts} start(s) of app; ${detail.incident.resolution ?? '?'}`,
              ok: starts === 1 && detail.incident.resolution?.startsWith('healed') === true,
            };
            break;
          }
        }
        log(`  → ${result.ok ? 'ok' : 'NOT OK'}: ${result.outcome}`);
        results.push(result);
      }
    }
    return results;
  } finally {
    await probe?.stop().catch(() => undefined);
    await tools?.stop().catch(() => undefined);
    await podman?.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** The campaign's goals, each with whether it holds and the figure that says so. */
export function goalLines(results: readonly FaultResult[]): [boolean, string][] {
  const safe = results.filter((r) => SAFE_FAULTS.includes(r.fault));
  const d2v = safe
    .filter((r) => r.detectedS !== null && r.verifiedS !== null)
    .map((r) => (r.verifiedS ?? 0) - (r.detectedS ?? 0));
  const of = (fault: FaultKind) => results.filter((r) => r.fault === fault);
  const lines: [boolean, string][] = [
    [
      safe.length > 0 && safe.every((r) => r.ok),
      `every safe-class fault healed and verified: ${safe.filter((r) => r.ok).length} of ${safe.length}`,
    ],
    [
      d2v.length > 0 && median(d2v) < 15,
      `median detect-to-verified under 15 s at a 5 s interval: ${median(d2v).toFixed(1)} s`,
    ],
  ];
  if (of('operator-stop').length > 0)
    lines.push([
      of('operator-stop').every((r) => r.actions === 0),
      `zero actions on the operator-stopped container: ${of('operator-stop').reduce((n, r) => n + r.actions, 0)}`,
    ]);
  if (of('flapping').length > 0)
    lines.push([
      of('flapping').every((r) => r.ok),
      `flapping contained by the budget (≤ 3 actions, circuit breaker open): ${of('flapping')
        .map((r) => r.actions)
        .join(', ')} action(s)`,
    ]);
  if (of('needs-review').length > 0)
    lines.push([
      of('needs-review').every((r) => r.ok),
      'the needs-review fault waits for approval and heals after it',
    ]);
  if (of('sigkill').length > 0)
    lines.push([
      of('sigkill').every((r) => r.actions === 1),
      `zero duplicate actions across a SIGKILL of the control plane: ${of('sigkill')
        .map((r) => r.actions)
        .join(', ')} start(s) seen by the engine`,
    ]);
  return lines;
}
