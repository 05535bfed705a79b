import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { manifestOf, startTestProbe } from './helpers.ts';

/** The schedule and the concurrency limits, against a real loopback server that counts. */

let web: FixtureServer;
let inFlight = 0;
let peak = 0;
const hitsAt: Record<string, number[]> = {};

beforeAll(async () => {
  web = await startHttpFixture((req, res) => {
    const name = (req.url ?? '/').slice(1);
    (hitsAt[name] ??= []).push(Date.now());
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    setTimeout(() => {
      inFlight -= 1;
      res.writeHead(200).end('ok');
    }, 60);
  });
});
afterAll(() => web?.close());

describe('probe schedule', () => {
  it('runs every service soon after start, then on its interval with jitter', async () => {
    const probe = await startTestProbe({
      manifest: manifestOf(
        {
          services: ['a', 'b', 'c'].map((name) => ({
            name,
            checks: [{ kind: 'http', url: `${web.url}/${name}` }],
          })),
        },
        1,
      ),
      config: { startupSpreadS: 0.3, jitter: 0.1 },
      schedule: true,
    });
    const started = Date.now();
    try {
      await new Promise((resolve) => setTimeout(resolve, 2600));
    } finally {
      await probe.stop();
    }
    for (const name of ['a', 'b', 'c']) {
      const hits = hitsAt[name] ?? [];
      // first round within the start-up spread (plus the request's own time)
      expect((hits[0] ?? Infinity) - started).toBeLessThan(500);
      expect(hits.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < hits.length; i++) {
        const gap = (hits[i] ?? 0) - (hits[i - 1] ?? 0);
        // 1 s ± 10 %, measured from the end of the previous round (60 ms answers)
        expect(gap).toBeGreaterThan(900);
        expect(gap).toBeLessThan(1300);
      }
    }
    const after = Object.values(hitsAt).flat().length;
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(Object.values(hitsAt).flat().length).toBe(after); // stopped means stopped
  });

  it('never runs more checks of a kind at once than its limit', async () => {
    peak = 0;
    const probe = await startTestProbe({
      manifest: manifestOf({
        defaults: { retries: 0 },
        services: Array.from({ length: 12 }, (_, i) => ({
          name: `s${i}`,
          checks: [{ kind: 'http' as const, url: `${web.url}/s${i}` }],
        })),
      }),
      config: { concurrency: { global: 5, http: 3 } },
    });
    try {
      const { body } = await probe.call('POST', '/start-stack-probe');
      expect(body.summary.healthy).toBe(12);
      expect(peak).toBe(3);
    } finally {
      await probe.stop();
    }
  });
});
