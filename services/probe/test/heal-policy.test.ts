import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '@datamancy/core';
import { startHttpFixture } from '@datamancy/testkit';
import type { CheckResult } from '../src/checks/types.ts';
import {
  analyze,
  fingerprintOf,
  logSignature,
  propose,
  type DiagnosisEvidence,
} from '../src/heal/diagnose.ts';
import { createSender, shouldNotify, type Notification } from '../src/heal/notify.ts';
import {
  backoffS,
  decide,
  HealConfigSchema,
  learn,
  type DecisionContext,
} from '../src/heal/policy.ts';
import type { Pattern } from '../src/heal/types.ts';

const config = HealConfigSchema.parse({});

function failing(
  over: Partial<CheckResult> & { evidence?: Partial<CheckResult['evidence']> },
): CheckResult {
  return {
    service: 'web',
    check: 'http',
    kind: 'http',
    critical: true,
    attempts: 2,
    startedAt: 0,
    status: 'fail',
    latencyMs: 5,
    message: 'failed',
    ...over,
    evidence: { reasons: ['failed'], url: 'http://127.0.0.1:8080/', ...over.evidence },
  };
}

function evidence(over: Partial<DiagnosisEvidence>): DiagnosisEvidence {
  return {
    service: 'web',
    container: 'web',
    failing: [failing({})],
    dependencies: [],
    gaps: [],
    ...over,
  };
}

const running = { name: 'web', state: 'running', restartCount: 0, labels: {} };

describe('analyzers and proposals', () => {
  it('a crash: start it again (safe)', () => {
    const ev = evidence({
      inspect: { name: 'web', state: 'exited', exitCode: 1, labels: {} },
      logs: 'boot\nfatal: cannot bind',
    });
    const findings = analyze(ev);
    expect(findings.map((f) => f.id)).toEqual(['crashed']);
    expect(findings[0]?.summary).toBe('web exited with code 1');
    expect(propose(ev, findings, { maxMemoryMb: 1024 })).toMatchObject([
      { action: 'start', finding: 'crashed' },
    ]);
    const killed = analyze(
      evidence({ inspect: { name: 'web', state: 'exited', exitCode: 137, labels: {} } }),
    );
    expect(killed[0]?.summary).toContain('SIGKILL, exit 137');
  });

  it('an OOM kill: raise the memory limit within the cap, then start', () => {
    const ev = evidence({
      inspect: {
        name: 'web',
        state: 'exited',
        exitCode: 137,
        oomKilled: true,
        memoryLimitBytes: 256 * 2 ** 20,
        labels: {},
      },
    });
    const proposals = propose(ev, analyze(ev), { maxMemoryMb: 300 });
    expect(proposals.map((p) => [p.action, p.parameters.memory_mb])).toEqual([
      ['scale_memory', 300],
      ['start', undefined],
    ]);
    const capped = evidence({
      inspect: { ...ev.inspect, name: 'web', state: 'exited', memoryLimitBytes: 300 * 2 ** 20 },
    });
    expect(propose(capped, analyze(capped), { maxMemoryMb: 300 }).map((p) => p.action)).toEqual([
      'start',
    ]);
  });

  it('runs but refuses or hangs: restart; a 5xx with errors in the logs: restart with the log lines as evidence', () => {
    const refused = evidence({
      inspect: running,
      failing: [
        failing({ evidence: { reasons: ['x'], error: { code: 'ECONNREFUSED', message: 'x' } } }),
      ],
    });
    expect(propose(refused, analyze(refused), { maxMemoryMb: 1 })[0]).toMatchObject({
      action: 'restart',
      finding: 'port-closed',
    });
    const hung = evidence({
      inspect: running,
      failing: [
        failing({ evidence: { reasons: ['x'], error: { code: 'TIMEOUT', message: 'x' } } }),
      ],
    });
    expect(analyze(hung).map((f) => f.id)).toEqual(['hung']);
    const app = evidence({
      inspect: running,
      failing: [failing({ evidence: { reasons: ['status 500'], httpStatus: 500 } })],
      logs: 'GET / 200\nERROR database pool exhausted\nGET / 500',
    });
    const f = analyze(app);
    expect(f[0]).toMatchObject({ id: 'app-error', confidence: 0.75 });
    expect(f[0]?.evidence).toContain('ERROR database pool exhausted');
  });

  it('needs a person for configuration errors, full disks, restart loops and expired certificates', () => {
    const config = evidence({
      inspect: { name: 'web', state: 'exited', exitCode: 1, labels: {} },
      logs: 'Error: invalid configuration: unknown option "listen"',
    });
    expect(propose(config, analyze(config), { maxMemoryMb: 1 }).map((p) => p.action)).toEqual([
      'config_change',
    ]);
    const disk = evidence({ inspect: running, logs: 'write /data/x: no space left on device' });
    expect(propose(disk, analyze(disk), { maxMemoryMb: 1 }).map((p) => p.action)).toEqual([
      'data_migration',
    ]);
    const loop = evidence({
      inspect: { name: 'web', state: 'restarting', restartCount: 40, labels: {} },
    });
    expect(propose(loop, analyze(loop), { maxMemoryMb: 1 }).map((p) => p.action)).toEqual([
      'recreate',
    ]);
  });

  it('keeps its hands off an operator-stopped or unmanaged container, and waits for a down dependency', () => {
    const stopped = evidence({
      inspect: { name: 'web', state: 'exited', exitCode: 0, labels: {} },
      exitKind: 'operator-stop',
    });
    expect(analyze(stopped).map((f) => f.id)).toEqual(['operator-stopped']);
    expect(propose(stopped, analyze(stopped), { maxMemoryMb: 1 })).toEqual([]);
    const unmanaged = evidence({
      inspect: {
        name: 'web',
        state: 'exited',
        exitCode: 1,
        labels: { 'datamancy.manage': 'false' },
      },
    });
    expect(analyze(unmanaged)[0]?.blocksAction).toContain('datamancy.manage=false');
    expect(propose(unmanaged, analyze(unmanaged), { maxMemoryMb: 1 })).toEqual([]);
    const dep = evidence({ inspect: running, dependencies: [{ name: 'db', state: 'down' }] });
    expect(propose(dep, analyze(dep), { maxMemoryMb: 1 })).toEqual([]);
  });

  it("waits for a starting container, runs the operator's remedy before a restart, notes a full host disk", () => {
    const starting = evidence({ inspect: { ...running, health: 'starting' } });
    expect(propose(starting, analyze(starting), { maxMemoryMb: 1 })).toMatchObject([
      { action: 'wait_for_health', parameters: { container: 'web', timeout_s: 60 } },
    ]);
    const hung = evidence({
      inspect: running,
      failing: [
        failing({ evidence: { reasons: ['x'], error: { code: 'TIMEOUT', message: 'x' } } }),
      ],
    });
    const remedies = [{ finding: 'hung', argv: ['kill', '-HUP', '1'] }];
    expect(propose(hung, analyze(hung), { maxMemoryMb: 1, remedies })).toMatchObject([
      { action: 'exec', parameters: { argv: ['kill', '-HUP', '1'] } },
    ]);
    const full = evidence({
      ...hung,
      fullDisks: [
        { mountpoint: '/var/lib/docker', usedPercent: 97 },
        { mountpoint: '/snap/core/1', usedPercent: 100 },
      ],
    });
    const findings = analyze(full);
    expect(findings.map((f) => f.id)).toEqual(['host-disk-full', 'hung']);
    expect(findings[0]?.evidence).toEqual(['/var/lib/docker: 97 % used']);
    expect(propose(full, findings, { maxMemoryMb: 1 })[0]?.action).toBe('restart');
  });

  it('fingerprints the same failure the same way, whatever the times and ids in the logs', () => {
    const a = evidence({
      inspect: { name: 'web', state: 'exited', exitCode: 1, labels: {} },
      logs: '2026-11-25T10:00:01Z request 7f3a9c21 failed after 31 ms',
    });
    const b = evidence({
      inspect: { name: 'web', state: 'exited', exitCode: 1, labels: {} },
      logs: '2026-11-26T11:22:33Z request 00ffee12 failed after 5 ms',
    });
    expect(logSignature(a.logs)).toBe('# request # failed after # ms');
    expect(fingerprintOf(a).fingerprint).toBe(fingerprintOf(b).fingerprint);
    const c = evidence({
      inspect: { name: 'web', state: 'exited', exitCode: 2, labels: {} },
      logs: a.logs,
    });
    expect(fingerprintOf(c).fingerprint).not.toBe(fingerprintOf(a).fingerprint);
  });
});

describe('policy', () => {
  const ctx = (over: Partial<DecisionContext>): DecisionContext => ({
    service: 'web',
    action: 'restart',
    now: 1_000_000,
    inMaintenance: false,
    recentActions: [],
    ...over,
  });

  it('runs safe actions, asks for the rest, never runs forbidden ones', () => {
    expect(decide(config, ctx({})).verdict).toBe('auto');
    expect(decide(config, ctx({ action: 'recreate' })).verdict).toBe('approval');
    expect(decide(config, ctx({ action: 'config_change' })).reason).toMatch(/needs a person/);
    const strict = HealConfigSchema.parse({
      services: { web: { actions: { restart: 'forbidden' } } },
      actions: { start: 'needs_review' },
    });
    expect(decide(strict, ctx({})).verdict).toBe('refused');
    expect(decide(strict, ctx({ service: 'other' })).verdict).toBe('auto');
    expect(decide(strict, ctx({ action: 'start' })).verdict).toBe('approval');
    expect(decide(HealConfigSchema.parse({ enabled: false }), ctx({})).verdict).toBe('approval');
  });

  it('never acts in maintenance or on a container it must not touch', () => {
    expect(decide(config, ctx({ inMaintenance: true }))).toMatchObject({
      verdict: 'refused',
      reason: 'in a maintenance window: no actions',
    });
    expect(decide(config, ctx({ blockedBy: 'an operator stopped the container' })).verdict).toBe(
      'refused',
    );
  });

  it('backs off exponentially, then opens the circuit breaker at the budget', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffS(config, n))).toEqual([10, 20, 40, 80, 300]);
    const now = 1_000_000;
    expect(decide(config, ctx({ now, recentActions: [now - 5_000] }))).toMatchObject({
      verdict: 'defer',
      retryAt: now + 5_000,
    });
    expect(decide(config, ctx({ now, recentActions: [now - 30_000, now - 15_000] }))).toMatchObject(
      {
        verdict: 'defer',
        retryAt: now + 5_000,
      },
    );
    expect(decide(config, ctx({ now, recentActions: [now - 90_000, now - 60_000] })).verdict).toBe(
      'auto',
    );
    const open = decide(
      config,
      ctx({ now, recentActions: [now - 300_000, now - 200_000, now - 100_000] }),
    );
    expect(open).toMatchObject({ verdict: 'refused', circuitOpen: true });
    // outside the window the budget is whole again
    expect(
      decide(
        config,
        ctx({ now, recentActions: [now - 2_000_000, now - 1_950_000, now - 1_900_000] }),
      ).verdict,
    ).toBe('auto');
  });

  it('earns autonomy after N approved, verified successes and loses it on the first failure', () => {
    const reviewed = HealConfigSchema.parse({ actions: { restart: 'needs_review' } });
    let pattern: Pattern | undefined;
    const step = (verified: boolean, humanApproved = true) => {
      const r = learn(config, pattern, {
        fingerprint: 'f',
        action: 'recreate',
        verified,
        humanApproved,
        now: 1,
      });
      pattern = r.pattern;
      return r.change;
    };
    expect([step(true), step(true, false), step(true)]).toEqual([undefined, undefined, undefined]);
    expect(decide(reviewed, ctx({ pattern })).verdict).toBe('approval');
    expect(step(true)).toBe('graduated');
    expect(decide(reviewed, ctx({ pattern }))).toMatchObject({
      verdict: 'auto',
      reason: expect.stringMatching(/earned autonomy/),
    });
    expect(step(false)).toBe('demoted');
    expect(decide(reviewed, ctx({ pattern })).verdict).toBe('approval');
    expect(step(true)).toBeUndefined(); // from zero again
  });
});

describe('notifications', () => {
  it('sends each kind once per incident, a resolution only after something was sent', () => {
    expect(shouldNotify({ notified: [] }, 'resolved')).toBe(false);
    expect(shouldNotify({ notified: [] }, 'approval_needed')).toBe(true);
    expect(shouldNotify({ notified: ['approval_needed'] }, 'approval_needed')).toBe(false);
    expect(shouldNotify({ notified: ['approval_needed'] }, 'resolved')).toBe(true);
  });

  it('posts JSON to the webhook and a titled message to ntfy', async () => {
    const got: { url: string; headers: Record<string, unknown>; body: string }[] = [];
    const sink = await startHttpFixture((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push({ url: req.url ?? '', headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    try {
      const send = createSender(
        { webhookUrl: `${sink.url}/hook`, ntfy: { url: sink.url, topic: 'ops' } },
        createSilentLogger(),
      );
      const n: Notification = {
        kind: 'approval_needed',
        incidentId: 7,
        service: 'web',
        message: 'web: recreate needs approval',
        at: '2026-11-25T00:00:00Z',
      };
      await send(n);
      const hook = got.find((g) => g.url === '/hook');
      expect(JSON.parse(hook?.body ?? '{}')).toMatchObject({
        source: 'datamancy',
        kind: 'approval_needed',
        incidentId: 7,
        title: 'Approval needed',
      });
      const ntfy = got.find((g) => g.url === '/ops');
      expect(ntfy?.body).toBe('web: recreate needs approval');
      expect(ntfy?.headers.title).toBe('Approval needed: web');
    } finally {
      await sink.close();
    }
  });
});
