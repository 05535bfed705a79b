import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  healSnapshot,
  seedApproval,
  startProbe,
  startTools,
  testTokens,
  TOKENS,
  type AdversarialProbe,
  type AdversarialTools,
} from './fixtures.ts';

/**
 * Attacker positions: a backend container that forges the SSO headers Caddy would add, and
 * one that has stolen a service's token (LiteLLM's, a gateway every app talks to; or a
 * service token that was wrongly given `admin`). Caddy's fixed address is played by
 * 127.0.0.2 and the attacker by 127.0.0.1, both on loopback. After each attempt the probe's
 * and the tool server's stores are read: no approval, no round, no window, no tool call.
 */

const CADDY = '127.0.0.2';
let probe: AdversarialProbe;
let tools: AdversarialTools;

interface Answer {
  status: number;
  body: string;
}

/** A raw HTTP request from a chosen loopback source address (the TCP peer the probe sees). */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  from = '127.0.0.1',
  body?: string,
): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: from,
        headers: {
          ...headers,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const SSO_ADMIN = { 'remote-user': 'sysadmin', 'remote-groups': 'admins,users' };
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function rounds(): Promise<number> {
  return (await probe.store.all('SELECT id FROM probe_rounds')).length;
}

beforeAll(async () => {
  probe = await startProbe({
    manifest: {
      services: [{ name: 'vault', checks: [{ kind: 'tcp', host: '127.0.0.1', port: 9 }] }],
    },
    config: { dashboard: { trustedProxies: [CADDY] } },
  });
  tools = await startTools({ allCaps: true, tokens: testTokens() });
}, 60_000);

afterAll(async () => {
  await probe?.stop();
  await tools?.stop();
});

describe('forged SSO headers from a backend container', () => {
  it('get no identity at all: no approval, no reading, no probe round', async () => {
    const { proposalId } = await seedApproval(probe);
    const before = await healSnapshot(probe, proposalId);
    const roundsBefore = await rounds();
    const origin = { origin: new URL(probe.url).origin, 'sec-fetch-site': 'same-origin' };
    const tries = [
      await send(probe.url, 'POST', `/approvals/${proposalId}/approve`, {
        ...SSO_ADMIN,
        ...origin,
      }),
      await send(probe.url, 'POST', '/start-stack-probe', { ...SSO_ADMIN, ...origin }),
      await send(probe.url, 'GET', '/approvals', SSO_ADMIN),
      await send(probe.url, 'GET', '/incidents', SSO_ADMIN),
    ];
    expect(tries.map((t) => t.status)).toEqual([401, 401, 401, 401]);
    expect(await healSnapshot(probe, proposalId)).toEqual(before);
    expect(await rounds()).toBe(roundsBefore);
  });

  it('are believed from Caddy’s own address (the control: the headers do work where they should)', async () => {
    const seen = await send(probe.url, 'GET', '/approvals', SSO_ADMIN, CADDY);
    expect(seen.status).toBe(200);
    expect(seen.body).toContain('awaiting_approval');
  });
});

describe('a stolen service token', () => {
  it('LiteLLM’s token cannot approve, read the probe, start probes, schedule maintenance or scrape metrics', async () => {
    const { proposalId } = await seedApproval(probe, 'vault-litellm');
    const before = await healSnapshot(probe, proposalId);
    const roundsBefore = await rounds();
    const as = bearer(TOKENS.litellm);
    const tries = [
      await send(probe.url, 'POST', `/approvals/${proposalId}/approve`, as),
      await send(probe.url, 'POST', '/execute-fix', as, undefined, JSON.stringify({ proposalId })),
      await send(probe.url, 'POST', '/start-stack-probe', as),
      await send(
        probe.url,
        'POST',
        '/maintenance',
        as,
        undefined,
        JSON.stringify({ service: 'vault', durationMinutes: 60, reason: 'cover tracks' }),
      ),
      await send(probe.url, 'GET', '/incidents', as),
      await send(probe.url, 'GET', '/metrics', as),
    ];
    expect(tries.map((t) => t.status)).toEqual([403, 403, 403, 403, 403, 403]);
    expect(await healSnapshot(probe, proposalId)).toEqual(before);
    expect(await rounds()).toBe(roundsBefore);
    expect(await probe.store.all('SELECT id FROM probe_maintenance')).toEqual([]);
  });

  it('LiteLLM’s token cannot call a single tool: every attempt is denied before it runs', async () => {
    const as = { ...bearer(TOKENS.litellm) };
    const calls = [
      { name: 'docker_restart', args: { container: 'vault' } },
      { name: 'docker_exec', args: { container: 'vault', argv: ['sh', '-c', 'id'] } },
      { name: 'http_get', args: { url: 'http://127.0.0.1:9/' } },
    ];
    for (const call of calls) {
      const res = await send(tools.url, 'POST', '/call-tool', as, undefined, JSON.stringify(call));
      expect(res.status, `${call.name}: ${res.body}`).toBe(403);
    }
    const audit = await send(tools.url, 'GET', '/audit?limit=50', bearer(TOKENS.admin));
    const entries = (JSON.parse(audit.body) as { entries: { caller: string; outcome: string }[] })
      .entries;
    const byLitellm = entries.filter((e) => e.caller === 'litellm');
    expect(byLitellm).toHaveLength(calls.length);
    expect(byLitellm.every((e) => e.outcome === 'denied')).toBe(true);
  });

  it('a service token that holds admin still cannot approve: a person must decide, and no pattern is learned', async () => {
    const { proposalId } = await seedApproval(probe, 'vault-rogue');
    const before = await healSnapshot(probe, proposalId);
    const as = bearer(TOKENS.serviceAdmin);
    const approve = await send(probe.url, 'POST', `/approvals/${proposalId}/approve`, as);
    const reject = await send(
      probe.url,
      'POST',
      `/approvals/${proposalId}/reject`,
      as,
      undefined,
      JSON.stringify({ reason: 'hide it' }),
    );
    const fix = await send(
      probe.url,
      'POST',
      '/execute-fix',
      as,
      undefined,
      JSON.stringify({ proposalId }),
    );
    expect([approve.status, reject.status, fix.status]).toEqual([403, 403, 403]);
    expect(approve.body).toMatch(/person/);
    expect(await healSnapshot(probe, proposalId)).toEqual(before);
  });

  it('a person who may only look cannot decide either', async () => {
    const { proposalId } = await seedApproval(probe, 'vault-viewer');
    const before = await healSnapshot(probe, proposalId);
    const approve = await send(
      probe.url,
      'POST',
      `/approvals/${proposalId}/approve`,
      bearer(TOKENS.viewer),
    );
    expect(approve.status).toBe(403);
    expect(await healSnapshot(probe, proposalId)).toEqual(before);
    expect((await send(probe.url, 'GET', '/approvals', bearer(TOKENS.viewer))).status).toBe(200);
  });
});
