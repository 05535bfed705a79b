import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPodman, type PodmanFixture } from '@datamancy/testkit';
import { loadCompose, neighbours, socketHolders, type ComposeService } from './compose.ts';

/**
 * Attacker position: code running in an ordinary app container on `backend` (JupyterHub runs
 * users' notebooks). The networks it can reach are the ones the rendered compose file gives
 * it; this suite rebuilds those networks on a real engine (Podman, networks created and
 * removed by the test) with busybox stand-ins for each service, and asserts from inside the
 * containers that no socket holder can be reached at any of its addresses, while the parties
 * meant to reach it can. No traffic leaves the test's own container networks.
 */

const compose = loadCompose();
const holders = socketHolders(compose);

/** App containers an attacker is likely to own, plus control-plane parts that must not reach the socket. */
const OUTSIDERS = ['jupyterhub', 'open-webui', 'litellm', 'probe', 'browser', 'caddy', 'grafana'];

let podman: PodmanFixture;
let image: string;
const suffix = randomBytes(3).toString('hex');
const net = (name: string): string => `dmadv-${suffix}-${name}`;
const ctr = (name: string): string => `dmadv-${suffix}-${name}`;

async function runStandIn(service: ComposeService, serve: boolean): Promise<void> {
  const [first, ...rest] = service.networks;
  if (first === undefined) throw new Error(`${service.name} is on no network`);
  const cmd = serve
    ? // What a socket proxy answers: a marker, so a reached one is unmistakable.
      `mkdir -p /www && echo reached-${service.name} > /www/index.html && httpd -f -p 2375 -h /www`
    : 'sleep 3600';
  await podman.cli([
    'run',
    '-d',
    '--name',
    ctr(service.name),
    '--network',
    net(first),
    '--network-alias',
    service.name,
    image,
    'sh',
    '-c',
    cmd,
  ]);
  for (const other of rest) {
    await podman.cli([
      'network',
      'connect',
      '--alias',
      service.name,
      net(other),
      ctr(service.name),
    ]);
  }
}

/**
 * What `from` gets when it asks `address:2375` for `/`: the page, or '' when unreachable.
 * busybox `nc` with a literal address (its static resolver cannot look names up, and this
 * engine's networks run no DNS; names resolve only on a shared network anyway, which the
 * rendered file rules out above, so the address is the attacker's real way in).
 */
async function reach(from: string, address: string): Promise<string> {
  try {
    return await podman.cli([
      'exec',
      ctr(from),
      'sh',
      '-c',
      `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${address} 2375`,
    ]);
  } catch {
    return '';
  }
}

async function addressesOf(name: string): Promise<string[]> {
  const raw = await podman.cli([
    'inspect',
    '--format',
    '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
    ctr(name),
  ]);
  return raw.split(/\s+/).filter(Boolean);
}

const outsiders = OUTSIDERS.map((n) => compose.services.get(n)).filter(
  (s): s is ComposeService => s !== undefined,
);
const clients = [...new Set(holders.flatMap((h) => neighbours(compose, h)))];

beforeAll(async () => {
  podman = await startPodman();
  image = await podman.importBusybox();
  const used = new Set([...holders, ...clients, ...outsiders].flatMap((s) => s.networks));
  for (const name of used) {
    const internal = compose.networks.get(name)?.internal === true;
    await podman.cli(['network', 'create', ...(internal ? ['--internal'] : []), net(name)]);
  }
  for (const holder of holders) await runStandIn(holder, true);
  for (const s of [...clients, ...outsiders]) {
    if (!holders.includes(s)) await runStandIn(s, false);
  }
}, 180_000);

afterAll(async () => {
  if (podman === undefined) return;
  await podman.cli(['rm', '--all', '--force', '--time', '0']).catch(() => '');
  await podman.close();
}, 60_000);

describe('an app container on backend', () => {
  it('the rendered stack has socket holders, each with the few clients the design allows', () => {
    expect(holders.map((h) => h.name).sort()).toEqual(['docker-admin-proxy', 'docker-proxy']);
    const byHolder = Object.fromEntries(
      holders.map((h) => [
        h.name,
        neighbours(compose, h)
          .map((s) => s.name)
          .sort(),
      ]),
    );
    expect(byHolder).toEqual({
      'docker-proxy': ['tool-server'],
      'docker-admin-proxy': ['dockge', 'portainer'],
    });
  });

  it('cannot reach any socket holder at any of its addresses from the containers an attacker owns', async () => {
    const holderAddresses = new Map<string, string[]>();
    for (const h of holders) holderAddresses.set(h.name, await addressesOf(h.name));
    const reached: string[] = [];
    for (const from of outsiders) {
      for (const h of holders) {
        for (const target of holderAddresses.get(h.name) ?? []) {
          const got = await reach(from.name, target);
          if (got.includes('reached-')) reached.push(`${from.name} → ${h.name} (${target})`);
        }
      }
    }
    expect(reached).toEqual([]);
  }, 120_000);

  it('while the parties meant to hold the engine do reach their proxy (the test can tell)', async () => {
    for (const h of holders) {
      const addresses = await addressesOf(h.name);
      expect(addresses.length).toBeGreaterThan(0);
      for (const client of neighbours(compose, h)) {
        const answers = await Promise.all(addresses.map((a) => reach(client.name, a)));
        expect(answers.join(''), `${client.name} → ${h.name}`).toContain(`reached-${h.name}`);
      }
    }
  }, 60_000);
});
