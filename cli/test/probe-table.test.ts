import { describe, expect, it } from 'vitest';
import type { CheckResultInfo, RoundReportInfo } from '@datamancy/clients';
import { reportRow } from '../src/commands/probe.ts';

function check(status: CheckResultInfo['status'], message: string): CheckResultInfo {
  return {
    service: 'wiki',
    check: 'browser',
    kind: 'browser',
    critical: true,
    status,
    attempts: 1,
    latencyMs: 10,
    startedAt: 0,
    message,
    evidence: { reasons: [message] },
  };
}

function report(over: Partial<RoundReportInfo>): RoundReportInfo {
  return {
    name: 'wiki',
    state: 'pending',
    since: 0,
    blockedBy: null,
    flapping: false,
    inMaintenance: false,
    lastRoundAt: null,
    lastOutcome: null,
    intervalS: 30,
    dependsOn: [],
    checks: [],
    outcome: null,
    alert: false,
    ...over,
  };
}

describe('datamancy probe table rows', () => {
  it('says why a check gave no verdict, so a pending row is never mute', () => {
    const row = reportRow(
      report({ checks: [check('unknown', 'browser service: UNAVAILABLE: Chromium is starting')] }),
    );
    expect(row).toEqual([
      'wiki',
      'pending',
      '-',
      '10 ms',
      'browser: no verdict: browser service: UNAVAILABLE: Chromium is starting',
    ]);
  });

  it('names failing checks and leaves a passing round quiet', () => {
    expect(
      reportRow(report({ state: 'down', outcome: 'fail', checks: [check('fail', 'HTTP 502')] }))[4],
    ).toBe('browser: HTTP 502');
    expect(
      reportRow(report({ state: 'up', outcome: 'pass', checks: [check('pass', 'ok')] }))[4],
    ).toBe('');
  });
});
