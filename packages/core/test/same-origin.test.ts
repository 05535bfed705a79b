import { describe, expect, it } from 'vitest';
import {
  createServiceApp,
  createSilentLogger,
  crossSiteReason,
  generateToken,
  TokenRegistry,
  type Identity,
} from '../src/index.ts';

/** The same-origin rule and its wiring in `createServiceApp`, in-process. */

describe('crossSiteReason', () => {
  const host = 'probe.example.test';
  const cases: [string, { secFetchSite?: string; origin?: string }, boolean][] = [
    ['Sec-Fetch-Site same-origin', { secFetchSite: 'same-origin' }, true],
    ['Sec-Fetch-Site none (typed, bookmark)', { secFetchSite: 'none' }, true],
    ['Sec-Fetch-Site same-site (a sibling subdomain)', { secFetchSite: 'same-site' }, false],
    ['Sec-Fetch-Site cross-site', { secFetchSite: 'cross-site' }, false],
    ['an unknown Sec-Fetch-Site', { secFetchSite: 'sideways' }, false],
    [
      'Sec-Fetch-Site wins over a matching Origin',
      { secFetchSite: 'cross-site', origin: `https://${host}` },
      false,
    ],
    ['no metadata and no Origin (an old browser, a script)', {}, true],
    ['no metadata, own Origin', { origin: `https://${host}` }, true],
    ['no metadata, own Origin in capitals', { origin: `https://PROBE.example.test` }, true],
    ['no metadata, foreign Origin', { origin: 'https://evil.example' }, false],
    ['no metadata, sibling Origin', { origin: `https://jupyter.example.test` }, false],
    ['no metadata, own host on another port', { origin: `https://${host}:8443` }, false],
    ['an opaque Origin', { origin: 'null' }, false],
  ];
  it.each(cases)('%s', (_name, headers, allowed) => {
    const reason = crossSiteReason({
      secFetchSite: headers.secFetchSite,
      origin: headers.origin,
      host,
    });
    expect(reason === undefined).toBe(allowed);
  });
});

describe('createServiceApp with a session or SSO identity', () => {
  const ADMIN = generateToken();
  function build(via: Identity['via']) {
    const changes: string[] = [];
    const { app } = createServiceApp({
      service: 'test',
      version: '0',
      logger: createSilentLogger(),
      tokens: new TokenRegistry(ADMIN),
      authenticate: (c) =>
        Promise.resolve(
          c.req.header('cookie') === 'session=ok'
            ? { name: 'alice', scopes: new Set(['admin']), via, kind: 'person' }
            : undefined,
        ),
    });
    app.get('/thing', (c) => c.json({ changes: changes.length }));
    for (const method of ['post', 'put', 'patch', 'delete'] as const) {
      app[method]('/thing', (c) => {
        changes.push(method);
        return c.json({ ok: true });
      });
    }
    return { app, changes };
  }
  const cookie = { cookie: 'session=ok', host: 'probe.example.test' };

  it.each(['session', 'sso'] as const)(
    'refuses every mutating method cross-site (%s) and nothing changes',
    async (via) => {
      const { app, changes } = build(via);
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const foreigns: Record<string, string>[] = [
          { 'sec-fetch-site': 'cross-site' },
          { 'sec-fetch-site': 'same-site' },
          { origin: 'https://evil.example' },
        ];
        for (const foreign of foreigns) {
          const res = await app.request('/thing', { method, headers: { ...cookie, ...foreign } });
          expect(res.status, `${method} ${JSON.stringify(foreign)}`).toBe(403);
          const body = (await res.json()) as { error: { code: string; reason: string } };
          expect(body.error).toMatchObject({ code: 'FORBIDDEN', reason: 'CROSS_SITE' });
        }
      }
      expect(changes).toEqual([]);
      // reading cross-site is allowed (the browser shows it to no one but the user)
      const read = await app.request('/thing', {
        headers: { ...cookie, 'sec-fetch-site': 'cross-site' },
      });
      expect(read.status).toBe(200);
    },
  );

  it('lets same-origin requests through', async () => {
    const { app, changes } = build('session');
    const own = await app.request('/thing', {
      method: 'POST',
      headers: { ...cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(own.status).toBe(200);
    const byOrigin = await app.request('/thing', {
      method: 'DELETE',
      headers: { ...cookie, origin: 'https://probe.example.test' },
    });
    expect(byOrigin.status).toBe(200);
    expect(changes).toEqual(['post', 'delete']);
  });

  it('leaves bearer-token requests alone', async () => {
    const { app, changes } = build('session');
    const res = await app.request('/thing', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'sec-fetch-site': 'cross-site' },
    });
    expect(res.status).toBe(200);
    expect(changes).toEqual(['post']);
  });
});
