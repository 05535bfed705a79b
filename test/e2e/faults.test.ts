import { describe, expect, it } from 'vitest';
import { FAULTS, goalLines, runCampaign } from '../../bench/faults/campaign.ts';

/**
 * The fault-injection campaign in its short form: every fault once against real Podman
 * containers, the tool server and the probe in their own processes (bench/faults runs it
 * repeated and writes the figures to docs/benchmarks.md).
 */
describe('fault-injection campaign (short form)', () => {
  it('heals every safe fault, keeps its hands off an operator stop, contains flapping, waits for approval, survives SIGKILL', async () => {
    const lines: string[] = [];
    const results = await runCampaign({
      faults: FAULTS,
      repeats: 1,
      flapWatchS: 60,
      log: (l) => lines.push(l),
    });
    const goals = goalLines(results);
    const failed = goals.filter(([ok]) => !ok).map(([, text]) => text);
    expect(failed, `campaign log:\n${lines.join('\n')}`).toEqual([]);
    expect(results.map((r) => r.fault)).toEqual([...FAULTS]);
    expect(results.filter((r) => !r.ok).map((r) => `${r.fault}: ${r.outcome}`)).toEqual([]);
  }, 900_000);
});
