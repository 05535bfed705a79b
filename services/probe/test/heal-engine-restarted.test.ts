import { describe, expect, it } from 'vitest';
import { analyze, propose, type DiagnosisEvidence } from '../src/heal/diagnose.ts';

/**
 * A container the engine's restart policy brought back since the last round: running again,
 * so nothing to start; the loop finds out how it exited (the engine's events) and acts on that.
 */

const evidence = (over: Partial<DiagnosisEvidence>): DiagnosisEvidence => ({
  service: 'redis',
  container: 'redis',
  inspect: {
    name: 'redis',
    state: 'running',
    health: 'healthy',
    restartCount: 1,
    startedAt: '2026-12-04T21:00:01Z',
    finishedAt: '2026-12-04T21:00:00Z',
    memoryLimitBytes: 256 * 2 ** 20,
    labels: {},
  },
  failing: [],
  dependencies: [],
  restartsInWindow: 1,
  restartsSinceLast: 1,
  gaps: [],
  ...over,
});

describe('a crash the engine restarted', () => {
  it('is engine-restarted, with how it exited; the loop waits for health and verifies', () => {
    const ev = evidence({
      exitKind: 'crash',
      exitBasis: 'died with exit code 139 with no kill, stop or restart before it',
    });
    const findings = analyze(ev);
    expect(findings.map((f) => f.id)).toEqual(['engine-restarted']);
    expect(findings[0]?.summary).toBe(
      "redis crashed and the engine's restart policy started it again (restart count 1)",
    );
    expect(findings[0]?.evidence[0]).toContain('exit code 139');
    expect(propose(ev, findings, { maxMemoryMb: 4096 })).toEqual([
      expect.objectContaining({ action: 'wait_for_health', finding: 'engine-restarted' }),
    ]);
  });

  it('is an OOM kill when the engine says so: the limit is raised, not just waited on', () => {
    const ev = evidence({ exitKind: 'oom', exitBasis: 'oom event around the die' });
    const findings = analyze(ev);
    expect(findings.map((f) => f.id)).toEqual(['oom-killed']);
    const [first] = propose(ev, findings, { maxMemoryMb: 4096 });
    expect(first).toMatchObject({
      action: 'scale_memory',
      parameters: { container: 'redis', memory_mb: 384 },
    });
  });

  it('is a restart loop from the third restart in the window, not one more restart to wait on', () => {
    const findings = analyze(evidence({ exitKind: 'crash', restartsInWindow: 3 }));
    expect(findings.map((f) => f.id)).toEqual(['restart-loop']);
  });

  it('is nothing new in a round that saw no restart', () => {
    expect(analyze(evidence({ restartsSinceLast: 0 }))).toEqual([]);
  });
});
