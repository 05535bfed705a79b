import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../src/checks/types.ts';
import { htmlText } from '../src/checks/page-text.ts';
import {
  analyze,
  corroboration,
  propose,
  uncorroboratedPageText,
  type DiagnosisEvidence,
} from '../src/heal/diagnose.ts';
import { decide, HealConfigSchema, type DecisionContext } from '../src/heal/policy.ts';
import { findSignatures, type SignatureMatch } from '../src/judge/signatures.ts';

/**
 * Hostile page text is only evidence: an error phrase in the content of a page that answered
 * 200 (a forum post quoting "502 Bad Gateway") fails the check, but never restarts anything
 * on its own. Pure tests of each step: where a signature was found, what corroborates it,
 * and what policy decides.
 */

const config = HealConfigSchema.parse({});
const running = { name: 'forum', state: 'running', restartCount: 0, labels: {} };

function pageCheck(
  status: number,
  html: string,
  over: Partial<CheckResult['evidence']> = {},
): CheckResult {
  const page = htmlText(html);
  const signatures = findSignatures(page.title, page.text);
  return {
    service: 'forum',
    check: 'http',
    kind: 'http',
    critical: true,
    attempts: 1,
    startedAt: 0,
    status: 'fail',
    latencyMs: 5,
    message: 'failed',
    evidence: {
      reasons: [`error page: ${signatures.map((s) => s.description).join(', ')}`],
      url: 'http://127.0.0.1:8080/',
      httpStatus: status,
      title: page.title,
      signatures,
      ...over,
    },
  };
}

const FORUM_POST =
  '<html><head><title>Community forum</title></head><body><h2>Help!</h2><p>After the upgrade I get 502 Bad Gateway and database connection failed: could not connect to the database</p></body></html>';
const PROXY_PAGE =
  '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>';

const evidence = (over: Partial<DiagnosisEvidence>): DiagnosisEvidence => ({
  service: 'forum',
  container: 'forum',
  inspect: running,
  logs: 'GET / 200\nGET /t/42 200',
  failing: [pageCheck(200, FORUM_POST)],
  dependencies: [],
  gaps: [],
  ...over,
});

describe('where a signature was found', () => {
  it('says text for phrases in the content, title for a title that is the error', () => {
    const forum = htmlText(FORUM_POST);
    expect(findSignatures(forum.title, forum.text).map((s) => [s.id, s.where])).toEqual([
      ['bad-gateway', 'text'],
      ['db-connection', 'text'],
    ]);
    const proxy = htmlText(PROXY_PAGE);
    expect(findSignatures(proxy.title, proxy.text)).toEqual([
      expect.objectContaining({ id: 'bad-gateway', where: 'title', excerpt: '502 Bad Gateway' }),
    ]);
  });

  it('does not count a title that only mentions an error ("Help: 502 Bad Gateway after upgrade - Forum")', () => {
    const found: SignatureMatch[] = findSignatures(
      'Help: 502 Bad Gateway after the upgrade - Community Forum',
      '',
    );
    expect(found.map((s) => s.where)).toEqual(['text']);
    expect(findSignatures('example.org | 502: Bad gateway', '')[0]?.where).toBe('title');
  });
});

describe('corroboration of page text', () => {
  it('a 200 page whose content alone has the phrase: nothing corroborates, the restart waits for a person', () => {
    const ev = evidence({});
    const proposal = propose(ev, analyze(ev), { maxMemoryMb: 1 })[0];
    expect(proposal).toMatchObject({ action: 'restart', finding: 'app-error' });
    expect(corroboration(ev)).toEqual([]);
    const reason = uncorroboratedPageText(ev, proposal ?? { finding: '' });
    expect(reason).toMatch(
      /only sign of trouble is an error phrase in the content of a page that answered 200/,
    );
    expect(reason).toMatch(/502 Bad Gateway/);
  });

  it('is not corroborated by error lines in the logs: apps log what their users send', () => {
    const ev = evidence({
      logs: 'GET /search?q=FATAL%20out%20of%20memory 200\nERROR: pool exhausted, cannot reach postgres',
    });
    expect(corroboration(ev)).toEqual([]);
    expect(uncorroboratedPageText(ev, { finding: 'app-error' })).toMatch(
      /waits|users may have written/,
    );
  });

  it('is corroborated by a failing status, an error title, or the container', () => {
    const cases: [string, DiagnosisEvidence][] = [
      [
        'a 5xx',
        evidence({
          failing: [pageCheck(200, FORUM_POST), pageCheck(503, '<p>x</p>', { signatures: [] })],
        }),
      ],
      ['an error title', evidence({ failing: [pageCheck(200, PROXY_PAGE)] })],
      [
        'a connection error',
        evidence({
          failing: [
            pageCheck(200, FORUM_POST),
            pageCheck(0, '', {
              signatures: [],
              httpStatus: undefined,
              error: { code: 'ECONNREFUSED', message: 'x' },
            }),
          ],
        }),
      ],
      ['an unhealthy container', evidence({ inspect: { ...running, health: 'unhealthy' } })],
      ['an exited container', evidence({ inspect: { ...running, state: 'exited', exitCode: 1 } })],
      ['a restart loop', evidence({ restartsInWindow: 4 })],
      [
        'a failing container check',
        evidence({
          failing: [
            pageCheck(200, FORUM_POST),
            {
              ...pageCheck(200, ''),
              kind: 'container',
              check: 'container',
              evidence: { reasons: ['unhealthy'] },
            },
          ],
        }),
      ],
    ];
    for (const [what, ev] of cases) {
      expect(corroboration(ev).length, what).toBeGreaterThan(0);
      expect(uncorroboratedPageText(ev, { finding: 'app-error' }), what).toBeUndefined();
    }
  });

  it('concerns only findings made of page text', () => {
    const ev = evidence({});
    for (const finding of ['crashed', 'port-closed', 'hung', 'oom-killed'])
      expect(uncorroboratedPageText(ev, { finding })).toBeUndefined();
  });
});

describe('policy on untrusted page text', () => {
  const ctx = (over: Partial<DecisionContext>): DecisionContext => ({
    service: 'forum',
    action: 'restart',
    now: 1_000_000,
    inMaintenance: false,
    recentActions: [],
    ...over,
  });

  it('asks a person, saying why, even for a safe action', () => {
    expect(decide(config, ctx({}))).toMatchObject({ verdict: 'auto' });
    const d = decide(config, ctx({ untrustedOnly: 'only page text says so' }));
    expect(d).toEqual({
      verdict: 'approval',
      safety: 'safe',
      reason: 'restart waits for a person: only page text says so',
    });
  });

  it('asks a person even when the action earned autonomy on this failure pattern', () => {
    const pattern = {
      fingerprint: 'f',
      action: 'restart' as const,
      approvedSuccesses: 5,
      failures: 0,
      autonomous: true,
      updatedAt: 0,
    };
    const reviewed = HealConfigSchema.parse({ actions: { restart: 'needs_review' } });
    expect(decide(reviewed, ctx({ pattern })).verdict).toBe('auto');
    expect(decide(reviewed, ctx({ pattern, untrustedOnly: 'page text' })).verdict).toBe('approval');
  });

  it('still refuses what is refused anyway (forbidden, maintenance, circuit open)', () => {
    const forbidden = HealConfigSchema.parse({ actions: { restart: 'forbidden' } });
    expect(decide(forbidden, ctx({ untrustedOnly: 'x' })).verdict).toBe('refused');
    expect(decide(config, ctx({ untrustedOnly: 'x', inMaintenance: true })).verdict).toBe(
      'refused',
    );
    const busy = ctx({ untrustedOnly: 'x', recentActions: [997_000, 998_000, 999_000] });
    expect(decide(config, busy)).toMatchObject({ verdict: 'refused', circuitOpen: true });
  });
});
