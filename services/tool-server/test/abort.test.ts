import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '@datamancy/core';
import { ADMIN, createTestToolServer, postJson, probes } from './helpers.ts';

describe('a caller that goes away', () => {
  let server: RunningServer;
  let audit: Awaited<ReturnType<typeof createTestToolServer>>['audit'];
  beforeAll(async () => {
    const built = await createTestToolServer();
    audit = built.audit;
    server = await listen(built.app, { host: '127.0.0.1', port: 0 });
  });
  afterAll(() => server.close());

  it('aborts the tool work and records the call as aborted', async () => {
    const before = probes.callerAborts;
    const controller = new AbortController();
    const pending = fetch(`${server.url}/call-tool`, {
      ...postJson(ADMIN, { name: 'wait_for_abort' }),
      signal: controller.signal,
    }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await pending;
    const deadline = Date.now() + 5_000;
    while (probes.callerAborts === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(probes.callerAborts).toBe(before + 1);
    let entry;
    while (Date.now() < deadline) {
      entry = (await audit.query({ tool: 'wait_for_abort', limit: 1 }))[0];
      if (entry !== undefined) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(entry).toMatchObject({ outcome: 'aborted', errorCode: 'ABORTED' });
    expect(entry?.durationMs).toBeLessThan(5_000);
  });
});
