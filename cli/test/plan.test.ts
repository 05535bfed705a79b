import { describe, expect, it } from 'vitest';
import type { ConfigError } from '@datamancy/core';
import { planStack } from '../src/stack-runner/plan.ts';

/**
 * What `datamancy up` asks the Engine API for, from the compose file's network plan: internal
 * networks, dynamic ranges (`ip_range`) and fixed addresses (`ipv4_address`).
 */

const compose = (edgeNetworks: string) => `
services:
  edge:
    image: caddy:2.8.4
    networks:
${edgeNetworks}
  app:
    image: app:1
    networks: [backend]
  proxy:
    image: datamancy/control-plane:0.1.0
    networks: [docker]
networks:
  frontend:
    ipam: { config: [{ subnet: 172.20.0.0/24 }] }
  backend:
    ipam: { config: [{ subnet: 172.21.0.0/24, ip_range: 172.21.0.128/25 }] }
  docker:
    internal: true
    ipam: { config: [{ subnet: 172.23.0.0/24 }] }
`;

const fixed = `      frontend: {}
      backend:
        ipv4_address: 172.21.0.2`;

const plan = (text: string) => planStack(text, { stackDir: '/stack', env: {}, project: 'dm' });

function issues(text: string): string[] {
  try {
    plan(text);
  } catch (err) {
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('planning the network plan', () => {
  it('creates internal networks and dynamic ranges as the compose file says', () => {
    const { networks } = plan(compose(fixed));
    const by = (name: string) => networks.find((n) => n.name === name);
    expect(by('dm_backend')).toMatchObject({
      internal: false,
      subnet: '172.21.0.0/24',
      ipRange: '172.21.0.128/25',
    });
    expect(by('dm_docker')).toMatchObject({ internal: true, subnet: '172.23.0.0/24' });
    expect(by('dm_docker')?.ipRange).toBeUndefined();
    expect(by('dm_frontend')?.internal).toBe(false);
  });

  it('creates a service on its fixed-address network first, with the address in the request', () => {
    const edge = plan(compose(fixed)).services.find((s) => s.name === 'edge');
    // written frontend first; the network with the address goes first
    expect(edge?.networks).toEqual(['dm_backend', 'dm_frontend']);
    expect(edge?.addresses).toEqual({ dm_backend: '172.21.0.2' });
    expect(edge?.body.NetworkingConfig).toEqual({
      EndpointsConfig: {
        dm_backend: { Aliases: ['edge'], IPAMConfig: { IPv4Address: '172.21.0.2' } },
      },
    });
    expect((edge?.body.HostConfig as { NetworkMode: string }).NetworkMode).toBe('dm_backend');
  });

  it('recreates a service when its address changes, and leaves the others alone', () => {
    const a = plan(compose(fixed));
    const b = plan(compose(fixed.replace('172.21.0.2', '172.21.0.3')));
    const hash = (p: typeof a, name: string) => p.services.find((s) => s.name === name)?.hash;
    expect(hash(a, 'edge')).not.toBe(hash(b, 'edge'));
    expect(hash(a, 'app')).toBe(hash(b, 'app'));
    // the long form without an address is the list form
    const list = plan(compose('      [backend, frontend]'));
    const long = plan(compose('      backend: {}\n      frontend:'));
    expect(hash(list, 'edge')).toBe(hash(long, 'edge'));
    expect(list.services.find((s) => s.name === 'edge')?.addresses).toEqual({});
  });

  it('refuses an address that is not one, or on a network without a subnet', () => {
    expect(issues(compose(fixed.replace('172.21.0.2', 'caddy')))).toEqual([
      'services.edge.networks.backend.ipv4_address: "caddy" is not an IPv4 address',
    ]);
    const noSubnet = `${compose('      plain:\n        ipv4_address: 10.9.0.2')}  plain: {}\n`;
    expect(issues(noSubnet)).toEqual([
      'services.edge.networks.plain.ipv4_address: a fixed address needs a subnet on network "plain"',
    ]);
    expect(issues(compose(fixed).replace('subnet: 172.21.0.0/24, ip_range', 'ip_range'))).toEqual([
      'networks.backend.ipam: an ip_range needs its subnet',
      'services.edge.networks.backend.ipv4_address: a fixed address needs a subnet on network "backend"',
    ]);
  });
});

describe('planning a service', () => {
  const one = (extra: string) =>
    plan(`services:\n  redis:\n    image: redis:7.4\n${extra}networks:\n  backend: {}\n`);

  it('asks for an init as PID 1 when the service says init: true, and only then', () => {
    const hostConfig = (p: ReturnType<typeof plan>) =>
      p.services[0]?.body.HostConfig as { Init?: boolean };
    expect(hostConfig(one('    init: true\n    networks: [backend]\n')).Init).toBe(true);
    expect(hostConfig(one('    networks: [backend]\n')).Init).toBeUndefined();
    expect(issues(`services:\n  redis:\n    image: redis:7.4\n    init: "yes"\n`)).toEqual([
      'services.redis.init: expected true or false',
    ]);
  });

  it('runs a stand-in in place of the file image, which counts in the config hash', () => {
    const text = `services:\n  redis:\n    image: redis:7.4\n  app:\n    image: app:1\n`;
    const plain = planStack(text, { stackDir: '/stack', env: {}, project: 'dm' });
    const local = planStack(text, {
      stackDir: '/stack',
      env: {},
      project: 'dm',
      images: { 'redis:7.4': 'datamancy-local/redis:7.4' },
    });
    const redis = (p: typeof plain) => p.services.find((s) => s.name === 'redis');
    expect(redis(local)?.image).toBe('datamancy-local/redis:7.4');
    expect(redis(local)?.body.Image).toBe('datamancy-local/redis:7.4');
    expect(redis(local)?.hash).not.toBe(redis(plain)?.hash);
    // a service without a stand-in keeps its image and its hash
    const app = (p: typeof plain) => p.services.find((s) => s.name === 'app');
    expect(app(local)?.image).toBe('app:1');
    expect(app(local)?.hash).toBe(app(plain)?.hash);
  });
});
