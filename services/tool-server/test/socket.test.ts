import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '@datamancy/core';
import type { AuditLog } from '../src/audit/audit-log.ts';
import { ADMIN, listenTestToolServer, postJson, probes } from './helpers.ts';

describe('over a real socket', () => {
  let server: RunningServer;
  let audit: AuditLog;
  beforeAll(async () => {
    ({ server, audit } = await listenTestToolServer());
  });
  afterAll(() => server.close());

  it('a caller that goes away aborts the tool work and is recorded as aborted', async () => {
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

  it('reads bodies from the socket: 200 within the limit, 413 past it with or without a length', async () => {
    const ok = await fetch(
      `${server.url}/call-tool`,
      postJson(ADMIN, { name: 'normalize_whitespace', args: { text: ' a  b ' } }),
    );
    expect(await ok.json()).toMatchObject({ result: { text: 'a b' } });
    const big = JSON.stringify({
      name: 'normalize_whitespace',
      args: { text: 'x'.repeat(2 * 1024 * 1024) },
    });
    const withLength = await fetch(`${server.url}/call-tool`, postJson(ADMIN, big));
    expect(withLength.status).toBe(413);
    const chunked = await fetch(`${server.url}/call-tool`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 4; i++)
            c.enqueue(new TextEncoder().encode(big.slice(i * 600_000, (i + 1) * 600_000)));
          c.enqueue(new TextEncoder().encode(big.slice(2_400_000)));
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    const bad = await fetch(`${server.url}/call-tool`, postJson(ADMIN, '{"name":'));
    expect(await bad.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
  });
});
