import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateToken,
  hashToken,
  openSqliteStore,
  openStore,
  TokenRegistry,
  type Store,
  type TokenEntryInput,
} from '@datamancy/core';
import { startHttpFixture, startPostgres, type FixtureServer } from '@datamancy/testkit';
import { SessionStore } from '../src/store/sessions.ts';
import { FROM, login, send } from './browser-requests.ts';
import { ADMIN, manifestOf, startTestProbe, type TestProbe } from './helpers.ts';

/**
 * Dashboard sessions live in the probe's store: they survive a restart, and end on logout, on
 * expiry, when their token is removed or rotated, and when an admin ends them. Their scopes are
 * the token's current ones, on every request.
 */

const OPS = generateToken();
const ROBOT = generateToken();

const ops = (token = OPS, scopes: TokenEntryInput['scopes'] = ['admin']): TokenEntryInput => ({
  name: 'ops',
  token,
  scopes,
});
const robot: TokenEntryInput = { name: 'robot', token: ROBOT, scopes: ['admin'], kind: 'service' };

let web: FixtureServer;
beforeAll(async () => {
  web = await startHttpFixture((_req, res) => res.writeHead(200).end('ok'));
});
afterAll(() => web?.close());

const manifest = () =>
  manifestOf({ services: [{ name: 'wiki', checks: [{ kind: 'http', url: `${web.url}/` }] }] });

function start(store: Store, entries: TokenEntryInput[], config: Record<string, unknown> = {}) {
  return startTestProbe({
    manifest: manifest(),
    store,
    tokens: new TokenRegistry(ADMIN, entries),
    config,
  });
}

const read = (probe: TestProbe, cookie: string) =>
  send(probe.url, 'GET', '/services', { cookie }).then((r) => r.status);

async function sessionRows(store: Store): Promise<Record<string, unknown>[]> {
  return store.all<Record<string, unknown>>('SELECT * FROM probe_sessions');
}

const stores: [string, () => Promise<{ store: Store; close(): Promise<void> }>][] = [
  [
    'SQLite',
    () => {
      const store = openSqliteStore(':memory:');
      return Promise.resolve({ store, close: () => store.close() });
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const pg = await startPostgres();
      const store = await openStore({ url: pg.url, sqlitePath: '/nonexistent' });
      return {
        store,
        close: async () => {
          await store.close();
          await pg.close();
        },
      };
    },
  ],
];

describe.each(stores)('dashboard sessions on %s', (_name, open) => {
  let backend: { store: Store; close(): Promise<void> };
  beforeAll(async () => {
    backend = await open();
  });
  afterAll(() => backend?.close());

  it('survive a restart of the probe on the same store, and end on logout', async () => {
    const first = await start(backend.store, [ops()]);
    const { cookie, setCookie, status } = await login(first.url, OPS);
    expect(status).toBe(303);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Secure/i); // plain HTTP, no trusted proxy saying otherwise
    expect(await read(first, cookie)).toBe(200);
    await first.stop();

    const second = await start(backend.store, [ops()]);
    try {
      expect(await read(second, cookie)).toBe(200);
      // the store holds a hash of the id and the token's digest, never either secret
      const rows = await sessionRows(backend.store);
      const mine = rows.filter((r) => r.token_name === 'ops');
      expect(mine).toHaveLength(1);
      const stored = JSON.stringify(rows);
      expect(stored).not.toContain(cookie.split('=')[1]);
      expect(stored).not.toContain(OPS);
      expect(mine[0]?.token_digest).toBe(hashToken(OPS).toString('hex'));

      const out = await send(second.url, 'POST', '/logout', { cookie, ...FROM.sameOrigin });
      expect(out.status).toBe(303);
      expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/i);
      expect(await read(second, cookie)).toBe(401);
      expect((await sessionRows(backend.store)).filter((r) => r.token_name === 'ops')).toEqual([]);
      // logging out again, with the dead cookie, still answers
      expect((await send(second.url, 'POST', '/logout', { cookie })).status).toBe(303);
    } finally {
      await second.stop();
    }
  });

  it('end when their token is removed from the config or rotated', async () => {
    const before = await start(backend.store, [ops(), robot]);
    const opsSession = (await login(before.url, OPS)).cookie;
    const robotSession = (await login(before.url, ROBOT)).cookie;
    expect(await read(before, opsSession)).toBe(200);
    expect(await read(before, robotSession)).toBe(200);
    await before.stop();

    // robot removed, ops rotated to a new token under the same name
    const rotated = generateToken();
    const after = await start(backend.store, [ops(rotated)]);
    try {
      expect(await read(after, opsSession)).toBe(401);
      expect(await read(after, robotSession)).toBe(401);
      // removed at start-up (and at the latest on first use)
      const names = (await sessionRows(backend.store)).map((r) => r.token_name);
      expect(names).not.toContain('robot');
      expect(names).not.toContain('ops');
      // a session of the old token that start-up did not see (another worker on a shared
      // store made it) is refused on use and deleted then
      const stale = await new SessionStore(backend.store).create({
        tokenName: 'ops',
        tokenDigest: hashToken(OPS),
        ttlMs: 60_000,
      });
      expect(await sessionRows(backend.store)).toHaveLength(1);
      expect(await read(after, `dm_probe_session=${stale}`)).toBe(401);
      expect(await sessionRows(backend.store)).toEqual([]);
      // the new token signs in as usual
      expect(await read(after, (await login(after.url, rotated)).cookie)).toBe(200);
    } finally {
      await after.stop();
      await backend.store.run('DELETE FROM probe_sessions');
    }
  });

  it('end at expiry, and expired rows are pruned', async () => {
    const probe = await start(backend.store, [ops()]);
    try {
      const { cookie } = await login(probe.url, OPS);
      const other = (await login(probe.url, OPS)).cookie;
      expect(await read(probe, cookie)).toBe(200);
      await backend.store.run('UPDATE probe_sessions SET expires_at = ?', [Date.now() - 1000]);
      expect(await read(probe, cookie)).toBe(401);
      expect(await read(probe, other)).toBe(401);
      expect(await sessionRows(backend.store)).toEqual([]);

      const sessions = new SessionStore(backend.store);
      await sessions.create({ tokenName: 'ops', tokenDigest: hashToken(OPS), ttlMs: 60_000 });
      await sessions.create({
        tokenName: 'ops',
        tokenDigest: hashToken(OPS),
        ttlMs: 60_000,
        now: Date.now() - 120_000,
      });
      expect(await sessions.prune(() => true)).toBe(1);
      expect(await sessions.list()).toHaveLength(1);
    } finally {
      await probe.stop();
      await backend.store.run('DELETE FROM probe_sessions');
    }
  });

  it('re-checks scopes on every request: a session loses what its token lost', async () => {
    const before = await start(backend.store, [ops()]);
    const { cookie } = await login(before.url, OPS);
    const asAdmin = await send(
      before.url,
      'POST',
      '/maintenance',
      { cookie, ...FROM.sameOrigin },
      { service: 'wiki', durationMinutes: 5, reason: 'upgrade' },
    );
    expect(asAdmin.status).toBe(201);
    await before.stop();

    // same token, now read-only; and a token without probe.read at all
    const after = await start(backend.store, [ops(OPS, ['probe.read'])]);
    try {
      expect(await read(after, cookie)).toBe(200);
      const windows = (await after.call('GET', '/maintenance')).body.windows as unknown[];
      const denied = await send(
        after.url,
        'POST',
        '/maintenance',
        { cookie, ...FROM.sameOrigin },
        { service: 'wiki', durationMinutes: 5, reason: 'again' },
      );
      expect(denied.status).toBe(403);
      expect(JSON.parse(denied.text).error.message).toContain('"admin" scope');
      expect((await after.call('GET', '/maintenance')).body.windows).toHaveLength(windows.length);
    } finally {
      await after.stop();
    }
    const blind = await start(backend.store, [ops(OPS, ['host.network.http'])]);
    try {
      expect(await read(blind, cookie)).toBe(403);
      expect((await send(blind.url, 'GET', '/', { cookie, accept: 'text/html' })).status).toBe(403);
    } finally {
      await blind.stop();
      await backend.store.run('DELETE FROM probe_sessions');
      await backend.store.run('DELETE FROM probe_maintenance');
    }
  });

  it('are ended by a person holding admin (DELETE /sessions), never by a service token', async () => {
    const probe = await start(backend.store, [ops(), robot]);
    try {
      const mine = (await login(probe.url, OPS)).cookie;
      const theirs = (await login(probe.url, ROBOT)).cookie;
      const listed = await probe.call('GET', '/sessions');
      expect(listed.status).toBe(200);
      expect(
        (listed.body.sessions as { tokenName: string }[]).map((s) => s.tokenName).sort(),
      ).toEqual(['ops', 'robot']);
      expect(JSON.stringify(listed.body)).not.toContain(hashToken(OPS).toString('hex'));

      const byService = await probe.call('DELETE', '/sessions?token=ops', undefined, ROBOT);
      expect(byService.status).toBe(403);
      expect(byService.body.error.message).toContain('a person must decide');
      expect(await read(probe, mine)).toBe(200);

      expect((await probe.call('DELETE', '/sessions')).status).toBe(400);
      const ended = await probe.call('DELETE', '/sessions?token=ops');
      expect(ended.body).toEqual({ ended: 1 });
      expect(await read(probe, mine)).toBe(401);
      expect(await read(probe, theirs)).toBe(200);
      expect((await probe.call('DELETE', '/sessions?token=*')).body).toEqual({ ended: 1 });
      expect(await read(probe, theirs)).toBe(401);
    } finally {
      await probe.stop();
    }
  });
});

describe('the session cookie', () => {
  it('is Secure when a trusted proxy says the browser used HTTPS, and only then', async () => {
    const store = openSqliteStore(':memory:');
    const trusting = await start(store, [ops()], { dashboard: { trustedProxies: ['127.0.0.1'] } });
    const distrusting = await start(store, [ops()], {
      dashboard: { trustedProxies: ['127.0.0.2'] },
    });
    try {
      const https = { ...FROM.sameOrigin, 'x-forwarded-proto': 'https' };
      expect((await login(trusting.url, OPS, https)).setCookie).toMatch(/;\s*Secure/i);
      expect((await login(trusting.url, OPS)).setCookie).not.toMatch(/Secure/i);
      expect((await login(distrusting.url, OPS, https)).setCookie).not.toMatch(/Secure/i);
    } finally {
      await trusting.stop();
      await distrusting.stop();
      await store.close();
    }
  });

  it('is not set for a bad token, and an unknown or malformed cookie is no session', async () => {
    const store = openSqliteStore(':memory:');
    const probe = await start(store, [ops()]);
    try {
      const bad = await login(probe.url, 'wrong-token-wrong-token-wrong');
      expect(bad.status).toBe(401);
      expect(bad.setCookie).toBeNull();
      expect(await sessionRows(store)).toEqual([]);
      expect(await read(probe, `dm_probe_session=${'A'.repeat(43)}`)).toBe(401);
      expect(await read(probe, 'dm_probe_session=x')).toBe(401);
    } finally {
      await probe.stop();
      await store.close();
    }
  });
});
