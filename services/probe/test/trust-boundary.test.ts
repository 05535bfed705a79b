import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateToken, TokenRegistry } from '@datamancy/core';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { ProbeConfigSchema } from '../src/config.ts';
import { DASHBOARD_CSP } from '../src/http/guards.ts';
import { FROM, login, send } from './browser-requests.ts';
import { ADMIN, manifestOf, READER, startTestProbe, type TestProbe } from './helpers.ts';

/**
 * The probe's HTTP trust boundary, played from a browser on another site (or a same-site page
 * such as jupyter.<domain>), from a backend container forging SSO headers, and from a service
 * holding an admin token. Every refusal also checks that nothing happened: the proposal still
 * waits, no probe round ran, no window was made.
 */

const OPS = generateToken();
const ROBOT = generateToken();

let web: FixtureServer;
let probe: TestProbe;
/** The admin's dashboard session and the SSO headers of an admin, through the trusted proxy. */
let session: Record<string, string>;
const ssoAdmin = { 'remote-user': 'bob', 'remote-groups': 'staff,admins' };

beforeAll(async () => {
  web = await startHttpFixture((_req, res) => res.writeHead(200).end('<title>ok</title>ok'));
  probe = await startTestProbe({
    manifest: manifestOf({
      services: [{ name: 'wiki', checks: [{ kind: 'http', url: `${web.url}/wiki` }] }],
    }),
    tokens: new TokenRegistry(ADMIN, [
      { name: 'ops', token: OPS, scopes: ['admin'] },
      { name: 'robot', token: ROBOT, scopes: ['admin'], kind: 'service' },
      { name: 'reader', token: READER, scopes: ['probe.read'] },
    ]),
    config: { dashboard: { trustedProxies: ['127.0.0.1'], adminGroups: ['admins'] } },
  });
  session = { cookie: (await login(probe.url, OPS)).cookie };
});
afterAll(async () => {
  await probe?.stop();
  await web?.close();
});

/** A proposal waiting for a person, on an open incident of `wiki`. */
async function pendingProposal(): Promise<number> {
  const now = Date.now();
  const incident = await probe.healStore.openIncident({
    service: 'wiki',
    fingerprint: `fp-${now}-${Math.random()}`,
    signature: 'test',
    at: now,
  });
  const proposal = await probe.healStore.addProposal({
    incidentId: incident.id,
    service: 'wiki',
    createdAt: now,
    action: 'restart',
    parameters: { container: 'wiki' },
    confidence: 0.9,
    reasoning: 'crashed',
    finding: 'crashed',
    safety: 'needs_review',
    preview: null,
    status: 'awaiting_approval',
    decision: 'needs review',
    expiresAt: now + 3_600_000,
  });
  return proposal.id;
}

async function untouched(id: number): Promise<void> {
  const proposal = await probe.healStore.proposal(id);
  expect(proposal).toMatchObject({ status: 'awaiting_approval', decidedBy: null });
  const timeline = await probe.healStore.timeline(proposal?.incidentId ?? 0);
  expect(timeline.map((e) => e.kind)).not.toContain('approved');
  expect(timeline.map((e) => e.kind)).not.toContain('rejected');
  expect(await probe.healStore.actions({ incidentId: proposal?.incidentId ?? 0 })).toEqual([]);
}

const hits = (): number => web.hits.filter((h) => h === '/wiki').length;
async function rounds(): Promise<number> {
  await probe.repo.flush();
  return (await probe.repo.rounds('wiki', 1000)).length;
}

const credentials = () =>
  [
    ['a session cookie', session],
    ['trusted SSO headers', ssoAdmin],
  ] as const;
const foreign = [
  ['Sec-Fetch-Site: cross-site', FROM.crossSite],
  ['Sec-Fetch-Site: same-site', FROM.sameSite],
  ['a foreign Origin', FROM.foreignOrigin],
] as const;

describe('cross-site requests of a session or SSO identity', () => {
  beforeEach(async () => {
    // nothing may wait from an earlier test's success
    for (const p of await probe.healStore.proposals({ status: 'awaiting_approval' }))
      await probe.healStore.transitionProposal(p.id, ['awaiting_approval'], 'superseded');
  });

  it('cannot approve, reject or run a fix, by API or dashboard form', async () => {
    for (const [, credential] of credentials()) {
      for (const [from, headers] of foreign) {
        const id = await pendingProposal();
        const as = { ...credential, ...headers };
        const attempts = [
          await send(probe.url, 'POST', `/approvals/${id}/approve`, as),
          await send(probe.url, 'POST', `/approvals/${id}/reject`, as, { reason: 'forged' }),
          await send(probe.url, 'POST', '/execute-fix', as, { proposalId: id }),
          await send(probe.url, 'POST', `/ui/approvals/${id}/approve`, as, ''),
          await send(probe.url, 'POST', `/ui/approvals/${id}/reject`, as, 'reason=forged'),
        ];
        for (const res of attempts) {
          expect(res.status, `${from}: ${res.text}`).toBe(403);
          expect(JSON.parse(res.text).error.message).toContain('cross-site request refused');
        }
        await untouched(id);
      }
    }
  });

  it('cannot start probes: no round runs and nothing is fetched', async () => {
    const [hitsBefore, roundsBefore] = [hits(), await rounds()];
    for (const [, credential] of credentials()) {
      for (const [from, headers] of foreign) {
        const as = { ...credential, ...headers };
        for (const res of [
          await send(probe.url, 'POST', '/start-stack-probe', as, {}),
          await send(probe.url, 'POST', '/services/wiki/probe', as),
          await send(probe.url, 'POST', '/ui/services/wiki/probe', as, ''),
          await send(probe.url, 'POST', '/start-probe', as, { services: [`${web.url}/wiki`] }),
          await send(probe.url, 'POST', '/analyze-and-propose-fixes', as, { service: 'wiki' }),
        ]) {
          expect(res.status, `${from}: ${res.text}`).toBe(403);
        }
      }
    }
    expect(hits()).toBe(hitsBefore);
    expect(await rounds()).toBe(roundsBefore);
  });

  it('cannot open or close maintenance windows, end sessions, log in or out', async () => {
    const window = await probe.call('POST', '/maintenance', {
      service: 'wiki',
      durationMinutes: 10,
      reason: 'by the admin token',
    });
    expect(window.status).toBe(201);
    const victim = (await login(probe.url, OPS)).cookie;
    for (const [, credential] of credentials()) {
      for (const [from, headers] of foreign) {
        const as = { ...credential, ...headers };
        for (const res of [
          await send(probe.url, 'POST', '/maintenance', as, {
            service: 'wiki',
            durationMinutes: 10,
            reason: 'forged',
          }),
          await send(probe.url, 'DELETE', `/maintenance/${String(window.body.id)}`, as),
          await send(probe.url, 'DELETE', '/sessions?token=ops', as),
        ]) {
          expect(res.status, `${from}: ${res.text}`).toBe(403);
        }
      }
    }
    const windows = (await probe.call('GET', '/maintenance')).body.windows as { reason: string }[];
    expect(windows.map((w) => w.reason)).toEqual(['by the admin token']);
    expect((await send(probe.url, 'GET', '/services', { cookie: victim })).status).toBe(200);

    // login CSRF: another site must not sign the browser in as its own token
    for (const [from, headers] of foreign) {
      const sessionsBefore = ((await probe.call('GET', '/sessions')).body.sessions as unknown[])
        .length;
      const forged = await login(probe.url, READER, headers);
      expect(forged.status, from).toBe(403);
      expect(forged.setCookie).toBeNull();
      expect((await probe.call('GET', '/sessions')).body.sessions).toHaveLength(sessionsBefore);
      const logout = await send(probe.url, 'POST', '/logout', { cookie: victim, ...headers });
      expect(logout.status, from).toBe(403);
      expect((await send(probe.url, 'GET', '/services', { cookie: victim })).status).toBe(200);
    }
    expect((await probe.call('DELETE', `/maintenance/${String(window.body.id)}`)).status).toBe(204);
  });

  it('work from the same origin: Sec-Fetch-Site same-origin or none, or the own Origin', async () => {
    const host = new URL(probe.url).host;
    const own: Record<string, string>[] = [
      FROM.sameOrigin,
      { 'sec-fetch-site': 'none' },
      { origin: `http://${host}` },
      {}, // an old browser sends no Origin on a same-origin form
    ];
    for (const headers of own) {
      const id = await pendingProposal();
      const res = await send(probe.url, 'POST', `/approvals/${id}/approve`, {
        ...session,
        ...headers,
      });
      expect(res.status, res.text).toBe(200);
      // approved by ops; no tool server here, so the run itself fails, after the approval
      expect(await probe.healStore.proposal(id)).toMatchObject({ decidedBy: 'ops' });
    }
    const byForm = await pendingProposal();
    const form = await send(
      probe.url,
      'POST',
      `/ui/approvals/${byForm}/reject`,
      { ...ssoAdmin, ...FROM.sameOrigin },
      'reason=not+now',
    );
    expect(form.status).toBe(303);
    expect(await probe.healStore.proposal(byForm)).toMatchObject({
      status: 'rejected',
      decidedBy: 'sso:bob',
    });
    const before = hits();
    const probed = await send(probe.url, 'POST', '/ui/services/wiki/probe', {
      ...session,
      ...FROM.sameOrigin,
    });
    expect(probed.status).toBe(303);
    expect(hits()).toBe(before + 1);
  });

  it('leave bearer-token requests alone: a browser never attaches those', async () => {
    const before = hits();
    const res = await send(probe.url, 'POST', '/services/wiki/probe', {
      authorization: `Bearer ${OPS}`,
      ...FROM.crossSite,
    });
    expect(res.status).toBe(200);
    expect(hits()).toBe(before + 1);
  });
});

describe('who may decide on a repair', () => {
  it('not a service token, even one holding admin: the proposal is untouched and nothing is learned', async () => {
    const id = await pendingProposal();
    const bearer = { authorization: `Bearer ${ROBOT}` };
    for (const res of [
      await send(probe.url, 'POST', `/approvals/${id}/approve`, bearer),
      await send(probe.url, 'POST', `/approvals/${id}/reject`, bearer, { reason: 'x' }),
      await send(probe.url, 'POST', '/execute-fix', bearer, { proposalId: id }),
    ]) {
      expect(res.status, res.text).toBe(403);
      expect(JSON.parse(res.text).error.message).toContain('a person must decide');
    }
    // nor its dashboard session, which shows no forms
    const robotSession = { cookie: (await login(probe.url, ROBOT)).cookie };
    const page = await send(probe.url, 'GET', '/ui/incidents', robotSession);
    expect(page.text).toContain('a person decides');
    expect(page.text).not.toContain(`/ui/approvals/${id}/approve`);
    const form = await send(probe.url, 'POST', `/ui/approvals/${id}/approve`, {
      ...robotSession,
      ...FROM.sameOrigin,
    });
    expect(form.status).toBe(403);
    // nor a caller of the engine itself
    await expect(
      probe.heal.approve(id, {
        name: 'robot',
        scopes: new Set(['admin']),
        via: 'token',
        kind: 'service',
      }),
    ).rejects.toThrow(/a person must decide/);
    await untouched(id);
    expect(await probe.healStore.patterns()).toEqual([]);
    // the probe's read scope alone cannot decide either
    const reader = await send(probe.url, 'POST', `/approvals/${id}/approve`, {
      authorization: `Bearer ${READER}`,
    });
    expect(reader.status).toBe(403);
    await untouched(id);
    // a person holding admin (the admin token, as the CLI uses it) can
    expect((await probe.call('POST', `/approvals/${id}/approve`)).status).toBe(200);
    expect(await probe.healStore.proposal(id)).toMatchObject({ decidedBy: 'admin' });
  });
});

describe('SSO headers', () => {
  it('give a non-admin SSO user probe.read only', async () => {
    const staff = { 'remote-user': 'alice', 'remote-groups': 'staff' };
    expect((await send(probe.url, 'GET', '/services', staff)).status).toBe(200);
    expect((await send(probe.url, 'GET', '/approvals', staff)).status).toBe(200);
    const id = await pendingProposal();
    const res = await send(probe.url, 'POST', `/approvals/${id}/approve`, {
      ...staff,
      ...FROM.sameOrigin,
    });
    expect(res.status).toBe(403);
    await untouched(id);
  });

  it('from a peer that is not the trusted proxy give nothing', async () => {
    const other = await startTestProbe({
      manifest: manifestOf({
        services: [{ name: 'wiki', checks: [{ kind: 'http', url: `${web.url}/other` }] }],
      }),
      config: { dashboard: { trustedProxies: ['127.0.0.2'], adminGroups: ['admins'] } },
    });
    try {
      const forged = { 'remote-user': 'mallory', 'remote-groups': 'admins', ...FROM.sameOrigin };
      expect((await send(other.url, 'GET', '/services', forged)).status).toBe(401);
      const page = await send(other.url, 'GET', '/', { ...forged, accept: 'text/html' });
      expect(page.status).toBe(302);
      expect(page.headers.get('location')).toBe('/login');
      const round = await send(other.url, 'POST', '/services/wiki/probe', forged);
      expect(round.status).toBe(401);
      expect(web.hits).not.toContain('/other');
    } finally {
      await other.stop();
    }
  });
});

describe('dashboard pages', () => {
  it('send a CSP without inline code, frame denial and nosniff, and need probe.read', async () => {
    const id = await pendingProposal();
    const proposal = await probe.healStore.proposal(id);
    for (const path of [
      '/',
      '/ui/services/wiki',
      '/ui/incidents',
      `/ui/incidents/${String(proposal?.incidentId)}`,
      '/login',
    ]) {
      const res = await send(probe.url, 'GET', path, { ...session, accept: 'text/html' });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy'), path).toBe(DASHBOARD_CSP);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
      // what the CSP would block must not be there
      expect(res.text).not.toMatch(/<script|<style|\sstyle="|\son\w+="/i);
    }
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
    expect(DASHBOARD_CSP).toContain("default-src 'none'");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    const css = await send(probe.url, 'GET', '/ui/dashboard.css', {});
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(css.text).toContain('.card');
    // API answers are JSON without the page policy, but nosniff all the same
    const api = await send(probe.url, 'GET', '/services', session);
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuse a token without probe.read', async () => {
    const blind = generateToken();
    const other = await startTestProbe({
      manifest: manifestOf({
        services: [{ name: 'wiki', checks: [{ kind: 'http', url: `${web.url}/other` }] }],
      }),
      tokens: new TokenRegistry(ADMIN, [
        { name: 'blind', token: blind, scopes: ['host.network.http'] },
      ]),
    });
    try {
      for (const path of [
        '/services',
        '/incidents',
        '/approvals',
        '/patterns',
        '/maintenance',
        '/',
      ]) {
        const res = await other.call('GET', path, undefined, blind);
        expect(res.status, path).toBe(403);
        expect(res.body.error.missing).toEqual(['probe.read']);
      }
    } finally {
      await other.stop();
    }
  });
});

describe('dashboard.trustedProxies', () => {
  const parse = (trustedProxies: string[]) =>
    ProbeConfigSchema.safeParse({ dashboard: { trustedProxies } });

  it('takes single addresses (a /32 or /128 is one)', () => {
    const parsed = parse(['172.21.0.2', '10.0.0.7/32', '::1', 'fd00::2/128']);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.dashboard.trustedProxies).toEqual([
      '172.21.0.2',
      '10.0.0.7',
      '::1',
      'fd00::2',
    ]);
  });

  it('refuses a range at config load, saying why', () => {
    for (const range of ['172.21.0.0/24', '10.0.0.0/31', 'fd00::/64', '0.0.0.0/0']) {
      const parsed = parse([range]);
      expect(parsed.success, range).toBe(false);
      const issue = parsed.error?.issues[0];
      expect(issue?.path).toEqual(['dashboard', 'trustedProxies', 0]);
      expect(issue?.message).toContain('is a range');
      expect(issue?.message).toContain('fixed address');
    }
    for (const junk of ['caddy', '172.21.0.300', '1.2.3.4/32/1', '']) {
      expect(parse([junk]).success, junk).toBe(false);
    }
  });
});
