import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  healSnapshot,
  seedApproval,
  startProbe,
  TOKENS,
  type AdversarialProbe,
} from './fixtures.ts';

/**
 * Attacker position: a page on another host of the same site (`jupyter.<domain>` next to
 * `status.<domain>`), opened by an operator who is logged in to the dashboard. SameSite
 * cookies do not stop it: the browser sends the session cookie with same-site requests. Real
 * Chromium, both hosts mapped to 127.0.0.1 by the resolver rules; the probe's store is read
 * afterwards to prove nothing was approved, run or changed.
 */

const SITE = 'datamancy.test';
let probe: AdversarialProbe;
let browser: Browser;
let attacker: Server;
let attackerPort = 0;
let probePort = 0;
let attackHtml = '';

beforeAll(async () => {
  probe = await startProbe({
    manifest: {
      services: [{ name: 'vault', checks: [{ kind: 'tcp', host: '127.0.0.1', port: 9 }] }],
    },
  });
  probePort = Number(new URL(probe.url).port);
  attacker = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(attackHtml);
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerPort = (attacker.address() as AddressInfo).port;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--host-resolver-rules=MAP *.${SITE} 127.0.0.1`,
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
  await probe?.stop();
});

const status = (): string => `http://status.${SITE}:${probePort}`;

/** A logged-in operator's browser context: the dashboard's own login form, with the admin token. */
async function loggedIn() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${status()}/login`);
  await page.fill('input[name=token]', TOKENS.admin);
  await Promise.all([page.waitForURL(`${status()}/`), page.click('button[type=submit]')]);
  const cookies = await context.cookies(status());
  expect(cookies.map((c) => c.name)).toContain('dm_probe_session');
  return { context, page };
}

describe('a same-site page the operator opens', () => {
  it('cannot approve, reject, probe or schedule maintenance with the operator’s session', async () => {
    const { proposalId } = await seedApproval(probe);
    const before = await healSnapshot(probe, proposalId);
    const roundsBefore = (await probe.store.all('SELECT id FROM probe_rounds')).length;
    const target = status();
    attackHtml = `<!doctype html><title>notebook</title>
      <iframe name="sink" style="display:none"></iframe>
      <form id="f1" method="post" action="${target}/ui/approvals/${proposalId}/approve" target="sink"></form>
      <script>
        const opts = { method: 'POST', credentials: 'include', mode: 'no-cors' };
        Promise.allSettled([
          fetch('${target}/approvals/${proposalId}/approve', opts),
          fetch('${target}/execute-fix', { ...opts, headers: { 'content-type': 'text/plain' }, body: '{"proposalId":${proposalId}}' }),
          fetch('${target}/start-stack-probe', opts),
          fetch('${target}/services/vault/probe', opts),
          fetch('${target}/maintenance', { ...opts, headers: { 'content-type': 'text/plain' }, body: '{"service":"vault","durationMinutes":60,"reason":"x"}' }),
        ]).then(() => { document.getElementById('f1').submit(); setTimeout(() => { document.title = 'done'; }, 800); });
      </script>`;
    const { context, page } = await loggedIn();
    await page.goto(`http://jupyter.${SITE}:${attackerPort}/`);
    await page.waitForFunction("document.title === 'done'", undefined, { timeout: 15_000 });
    await context.close();

    expect(await healSnapshot(probe, proposalId)).toEqual(before);
    expect(before.status).toBe('awaiting_approval');
    expect((await probe.store.all('SELECT id FROM probe_rounds')).length).toBe(roundsBefore);
    expect(await probe.store.all('SELECT id FROM probe_maintenance')).toEqual([]);
  }, 60_000);

  it('cannot frame the dashboard (clickjacking)', async () => {
    attackHtml = `<!doctype html><title>framer</title><iframe id="f" src="${status()}/"></iframe>`;
    const { context, page } = await loggedIn();
    await page.goto(`http://jupyter.${SITE}:${attackerPort}/`);
    await page.waitForTimeout(1000);
    const framed = page.frames().find((f) => f.url().startsWith(status()));
    // Blocked frames stay empty: no dashboard content is rendered inside them.
    const text =
      framed === undefined
        ? ''
        : await framed
            .evaluate<string>("document.body ? document.body.innerText : ''")
            .catch(() => '');
    expect(text).not.toMatch(/vault|Services|Log out/i);
    await context.close();
  }, 30_000);

  it('the same operator, on the dashboard itself, can still reject (the refusal above is the guard, not a dead session)', async () => {
    const { incidentId, proposalId } = await seedApproval(probe, 'vault-2');
    const { context, page } = await loggedIn();
    await page.goto(`${status()}/ui/incidents/${incidentId}`);
    const form = page.locator(`form[action="/ui/approvals/${proposalId}/reject"]`);
    await form.locator('input[name=reason]').fill('not now');
    await Promise.all([
      page.waitForURL(`${status()}/ui/incidents/${incidentId}`),
      form.locator('button').click(),
    ]);
    await context.close();
    expect((await healSnapshot(probe, proposalId)).status).toBe('rejected');
  }, 30_000);
});
