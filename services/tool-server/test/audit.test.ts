import { describe, expect, it } from 'vitest';
import { canonicalJson, digestArgs } from '../src/audit/audit-log.ts';
import { ADMIN, bearer, createTestToolServer, postJson, READER, WRITER } from './helpers.ts';

interface AuditPage {
  entries: {
    caller: string;
    tool: string;
    outcome: string;
    errorCode: string | null;
    argsDigest: string;
    channel: string;
    durationMs: number;
    id: number;
  }[];
  nextBefore: number | null;
}

describe('audit', () => {
  it('records every call with caller, tool, argument digest, outcome and duration', async () => {
    const { app } = await createTestToolServer();
    await app.request('/call-tool', postJson(READER, { name: 'hash_sha256', args: { text: 'a' } }));
    await app.request(
      '/call-tool',
      postJson(READER, { name: 'restart_thing', args: { name: 'x' } }),
    );
    await app.request('/call-tool', postJson(WRITER, { name: 'whoami', args: { n: 0 } }));
    await app.request('/call-tool', postJson(WRITER, { name: 'nope' }));
    const res = await app.request('/audit', { headers: bearer(ADMIN) });
    expect(res.status).toBe(200);
    const page = (await res.json()) as AuditPage;
    expect(page.entries.map((e) => [e.caller, e.tool, e.outcome, e.errorCode])).toEqual([
      ['writer', 'nope', 'not_found', 'TOOL_NOT_FOUND'],
      ['writer', 'whoami', 'invalid', 'INVALID_ARGUMENTS'],
      ['reader', 'restart_thing', 'denied', 'CAPABILITY_DENIED'],
      ['reader', 'hash_sha256', 'ok', null],
    ]);
    expect(page.entries[3]?.argsDigest).toBe(digestArgs({ text: 'a' }));
    expect(page.entries.every((e) => e.channel === 'http' && e.durationMs >= 0)).toBe(true);
  });

  it('filters by tool, caller and outcome, and pages with before', async () => {
    const { app } = await createTestToolServer();
    for (let i = 0; i < 5; i++)
      await app.request('/call-tool', postJson(READER, { name: 'now_utc_iso' }));
    await app.request('/call-tool', postJson(WRITER, { name: 'uuid_generate' }));
    const get = async (qs: string) =>
      (await (await app.request(`/audit?${qs}`, { headers: bearer(ADMIN) })).json()) as AuditPage;
    expect((await get('tool=uuid_generate')).entries.map((e) => e.caller)).toEqual(['writer']);
    expect((await get('caller=reader')).entries).toHaveLength(5);
    const first = await get('caller=reader&limit=2');
    expect(first.entries).toHaveLength(2);
    const second = await get(`caller=reader&limit=2&before=${first.nextBefore ?? 0}`);
    expect(second.entries[0]!.id).toBeLessThan(first.entries[1]!.id);
    expect((await get('outcome=error')).entries).toEqual([]);
  });

  it('refuses bad query parameters by name and callers without audit.read', async () => {
    const { app } = await createTestToolServer();
    const bad = await app.request('/audit?limit=5000&since=yesterday', { headers: bearer(ADMIN) });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { issues: { path: string }[] } };
    expect(body.error.issues.map((i) => i.path).sort()).toEqual(['query.limit', 'query.since']);
    expect((await app.request('/audit', { headers: bearer(READER) })).status).toBe(403);
  });

  it('digests equal arguments equally whatever their key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    expect(digestArgs({ a: 1, b: 2 })).toBe(digestArgs({ b: 2, a: 1 }));
    expect(digestArgs({ a: 1 })).not.toBe(digestArgs({ a: 2 }));
  });
});
