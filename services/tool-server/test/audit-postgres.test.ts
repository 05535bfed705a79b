import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@datamancy/core';
import { startPostgres, type PostgresFixture } from '@datamancy/testkit';
import { AuditLog, digestArgs } from '../src/audit/audit-log.ts';

describe('audit log on PostgreSQL', () => {
  let pg: PostgresFixture;
  let store: Store;
  beforeAll(async () => {
    pg = await startPostgres();
    store = await openStore({ url: pg.url, sqlitePath: '/nonexistent' });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await pg?.close();
  });

  it('records batched calls and answers the same filtered, paged queries as on SQLite', async () => {
    const audit = await AuditLog.open(store);
    for (let i = 0; i < 5; i++) {
      audit.record({
        caller: i % 2 === 0 ? 'reader' : 'writer',
        channel: 'http',
        tool: 'now_utc_iso',
        argsDigest: digestArgs({ i }),
        outcome: i === 4 ? 'denied' : 'ok',
        errorCode: i === 4 ? 'CAPABILITY_DENIED' : null,
        durationMs: 0.5 + i,
        requestId: `r${i}`,
      });
    }
    const readers = await audit.query({ caller: 'reader', limit: 10 });
    expect(readers.map((e) => e.requestId)).toEqual(['r4', 'r2', 'r0']);
    expect(readers[0]).toMatchObject({
      outcome: 'denied',
      errorCode: 'CAPABILITY_DENIED',
      durationMs: 4.5,
    });
    expect(typeof readers[0]?.id).toBe('number');
    const page = await audit.query({ limit: 2, before: readers[0]?.id });
    expect(page.map((e) => e.requestId)).toEqual(['r3', 'r2']);
    // a second start does not re-run the migration
    await expect(AuditLog.open(store)).resolves.toBeInstanceOf(AuditLog);
  });
});
