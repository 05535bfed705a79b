import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadTokensFile } from '@datamancy/core';
import {
  derivedFiles,
  loadCatalog,
  PROMETHEUS_TOKEN_PATH,
  renderStack,
  SECRET_DIGESTS_MOUNT,
  SECRET_DIGESTS_PATH,
  secretSpecs,
  serviceTokenVar,
  TOKENS_FILE_MOUNT,
  TOKENS_FILE_PATH,
} from '../src/index.ts';
import { catalogIssues, MINIMAL_IDENTITY } from './helpers.ts';

/**
 * The stack's trust boundaries as rendered: who shares a network with a holder of the engine
 * socket, where SSO headers may come from, and which token each service holds. Everything is
 * read from the rendered files (what the engine is given), not from the catalog.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const catalog = loadCatalog(join(ROOT, 'stack', 'catalog.yaml'));
const files = renderStack(catalog);
const rendered = (path: string): string => files.find((f) => f.path === path)?.content ?? '';

interface Service {
  image: string;
  networks: string[] | Record<string, { ipv4_address?: string } | null>;
  environment?: Record<string, string>;
  volumes?: string[];
  command?: string[];
}
const composeText = rendered('docker-compose.yml');
const compose = parseYaml(composeText) as {
  services: Record<string, Service>;
  networks: Record<
    string,
    { internal?: boolean; ipam: { config: { subnet: string; ip_range?: string }[] } }
  >;
};
const services = Object.entries(compose.services);
const networksOf = (s: Service): string[] =>
  Array.isArray(s.networks) ? s.networks : Object.keys(s.networks);
/** The mount's host side: a path, or `${VAR:-/default/path}`. */
const sourceOf = (volume: string): string => /^(\$\{[^}]*\}|[^:]*)/.exec(volume)?.[1] ?? '';
const mountsSocket = (s: Service): boolean =>
  (s.volumes ?? []).some((v) => /(docker|podman)\.sock/.test(sourceOf(v)));

function ipv4(address: string): number {
  return address.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}
function inCidr(address: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipv4(base) / size) * size;
  return ipv4(address) >= start && ipv4(address) < start + size;
}

describe('who can reach the engine socket', () => {
  it('for every service, names the networks it shares with a socket holder: only the proxies’ own clients', () => {
    const holders = services.filter(([, s]) => mountsSocket(s));
    expect(holders.map(([n]) => n).sort()).toEqual(['docker-admin-proxy', 'docker-proxy']);
    // service → holder → shared networks, for every service of the compose file
    const shared: Record<string, Record<string, string[]>> = {};
    for (const [name, s] of services) {
      for (const [holder, h] of holders) {
        if (holder === name) continue;
        const common = networksOf(s).filter((n) => networksOf(h).includes(n));
        if (common.length > 0) (shared[name] ??= {})[holder] = common.sort();
      }
    }
    expect(shared).toEqual({
      'tool-server': { 'docker-proxy': ['docker'] },
      portainer: { 'docker-admin-proxy': ['docker-admin'] },
      dockge: { 'docker-admin-proxy': ['docker-admin'] },
    });
    expect(services.length).toBeGreaterThan(40);
    // each holder is alone on an internal network: no route out, nobody else in
    for (const [name, h] of holders) {
      expect(networksOf(h), name).toHaveLength(1);
      const network = networksOf(h)[0] ?? '';
      expect(compose.networks[network]?.internal, network).toBe(true);
      expect(h.command, name).toEqual(['serve', 'docker-proxy']);
    }
  });

  it('gives the tool server the control-plane policy and the admin UIs the full API, each through its proxy', () => {
    const env = (name: string) => compose.services[name]?.environment ?? {};
    expect(env('docker-proxy').DOCKER_PROXY_POLICY).toBe('control-plane');
    // exec only of each service's own healthcheck, exactly as its compose healthcheck says
    const allow = JSON.parse(env('docker-proxy').DOCKER_PROXY_EXEC_ALLOW ?? 'null') as Record<
      string,
      string[][]
    >;
    for (const [name, entries] of Object.entries(allow)) {
      const test = (compose.services[name] as { healthcheck?: { test: string[] } } | undefined)
        ?.healthcheck?.test;
      const [kind, ...rest] = test ?? [];
      expect(entries, name).toEqual([kind === 'CMD' ? rest : ['/bin/sh', '-c', rest.join(' ')]]);
    }
    expect(env('docker-admin-proxy').DOCKER_PROXY_POLICY).toBe('full');
    expect(env('tool-server').DOCKER_HOST).toBe('tcp://docker-proxy:2375');
    expect(env('dockge').DOCKER_HOST).toBe('tcp://docker-admin-proxy:2375');
    expect(compose.services.portainer?.command).toEqual(['-H', 'tcp://docker-admin-proxy:2375']);
    // nobody else is pointed at an engine
    for (const [name, s] of services) {
      const text = JSON.stringify([s.environment, s.command]);
      if (!['tool-server', 'dockge', 'portainer'].includes(name))
        expect(text, name).not.toMatch(/docker(-admin)?-proxy:2375|DOCKER_HOST/);
    }
  });
});

describe('where SSO headers may come from', () => {
  const caddy = compose.services.caddy;
  const edge = (caddy?.networks as Record<string, { ipv4_address?: string } | null>).backend
    ?.ipv4_address;

  it('gives Caddy a fixed backend address outside the range the engine hands out', () => {
    expect(edge).toMatch(/^172\.21\.0\.\d+$/);
    const ipam = compose.networks.backend?.ipam.config[0];
    expect(inCidr(edge ?? '', ipam?.subnet ?? '')).toBe(true);
    expect(ipam?.ip_range).toBeDefined();
    expect(inCidr(edge ?? '', ipam?.ip_range ?? '')).toBe(false);
    // no one else is given an address on backend, and the range is within the subnet
    for (const [name, s] of services.filter(([n]) => n !== 'caddy'))
      expect(Array.isArray(s.networks) ? undefined : s.networks.backend, name).toBeFalsy();
    expect(inCidr((ipam?.ip_range ?? '').split('/')[0] ?? '', ipam?.subnet ?? '')).toBe(true);
  });

  it("trusts Remote-* headers (probe, Grafana) from Caddy's address alone", () => {
    expect(compose.services.probe?.environment?.PROBE_TRUSTED_PROXIES).toBe(edge);
    expect(compose.services.grafana?.environment?.GF_AUTH_PROXY_WHITELIST).toBe(edge);
    // and no service trusts anyone else
    for (const [name, s] of services) {
      for (const [k, v] of Object.entries(s.environment ?? {}))
        if (/TRUSTED_PROXIES|PROXY_WHITELIST/.test(k)) expect(v, `${name} ${k}`).toBe(edge);
    }
  });
});

describe('one token per service, least scope', () => {
  const env = (name: string) => compose.services[name]?.environment ?? {};

  it('gives no rendered service the admin token', () => {
    expect(composeText).not.toContain('DATAMANCY_API_TOKEN');
    for (const [name, s] of services) {
      expect(Object.keys(s.environment ?? {}), name).not.toContain('DATAMANCY_API_TOKEN');
      expect(Object.values(s.environment ?? {}).join(' '), name).not.toContain('API_TOKEN');
    }
  });

  it('hands each holder its own token, with the scopes it needs and no more', () => {
    const held = Object.fromEntries(
      catalog.services.flatMap((s) =>
        s.datamancyToken ? [[s.name, s.datamancyToken.scopes]] : [],
      ),
    );
    expect(held).toEqual({
      probe: [
        'host.docker.inspect',
        'host.docker.write',
        'host.network.http',
        'host.shell.read',
        'browser.use',
      ],
      'tool-server': ['browser.use'],
      litellm: ['models.use', 'speech.use'],
      prometheus: ['metrics.read'],
    });
    for (const name of ['litellm', 'prometheus', 'tool-server'])
      for (const scope of ['host.docker.write', 'host.network.ssh', 'admin'])
        expect(held[name], name).not.toContain(scope);
    expect(env('probe').KFUN_TOKEN).toBe('${DATAMANCY_TOKEN_PROBE}');
    expect(env('probe').BROWSER_TOKEN).toBe('${DATAMANCY_TOKEN_PROBE}');
    expect(env('tool-server').BROWSER_TOKEN).toBe('${DATAMANCY_TOKEN_TOOL_SERVER}');
    // the services that hold none are given none
    for (const name of ['browser', 'model-router', 'speech-gateway'])
      expect(JSON.stringify(env(name)), name).not.toMatch(/DATAMANCY_TOKEN_|_TOKEN:/);
    // a token is referenced only by its holder
    for (const [name, s] of services) {
      for (const m of JSON.stringify(s.environment ?? {}).matchAll(/\$\{(DATAMANCY_TOKEN_\w+)\}/g))
        expect(m[1], name).toBe(serviceTokenVar(name));
    }
  });

  it('has LiteLLM send its own token to the model router and the speech gateway', () => {
    const config = parseYaml(rendered('litellm/config.yaml')) as {
      model_list: { model_name: string; litellm_params: { api_base: string; api_key: string } }[];
    };
    const toOurs = config.model_list.filter((m) =>
      /\/\/(model-router|speech-gateway):/.test(m.litellm_params.api_base),
    );
    expect(toOurs.map((m) => m.model_name).sort()).toEqual(['chat', 'tts-1', 'whisper-1']);
    for (const m of toOurs)
      expect(m.litellm_params.api_key).toBe('os.environ/DATAMANCY_TOKEN_LITELLM');
    expect(env('litellm').DATAMANCY_TOKEN_LITELLM).toBe('${DATAMANCY_TOKEN_LITELLM}');
  });

  it('mounts the tokens file read-only into every control-plane service, and the secret digests into the tool server only', () => {
    const ours = services.filter(([, s]) => s.image.startsWith('datamancy/') && !mountsSocket(s));
    expect(ours.map(([n]) => n).sort()).toEqual([
      'browser',
      'model-router',
      'probe',
      'speech-gateway',
      'tool-server',
    ]);
    const mountOf = (s: Service, file: string, mount: string) =>
      (s.volumes ?? []).find((v) => {
        const [source = '', target = '', mode] = v.split(':');
        return (
          `./${file}`.startsWith(`${source}/`) && mount.startsWith(`${target}/`) && mode === 'ro'
        );
      });
    for (const [name, s] of services) {
      const own = ours.some(([n]) => n === name);
      expect(mountOf(s, TOKENS_FILE_PATH, TOKENS_FILE_MOUNT) !== undefined, name).toBe(own);
      expect(s.environment?.DATAMANCY_TOKENS_FILE, name).toBe(own ? TOKENS_FILE_MOUNT : undefined);
      const redacts = name === 'tool-server';
      expect(mountOf(s, SECRET_DIGESTS_PATH, SECRET_DIGESTS_MOUNT) !== undefined, name).toBe(
        redacts,
      );
      expect(s.environment?.DATAMANCY_SECRET_DIGESTS_FILE, name).toBe(
        redacts ? SECRET_DIGESTS_MOUNT : undefined,
      );
    }
  });

  it('derives a tokens file core accepts, the digests of every secret, and Prometheus’ own token', () => {
    const env: Record<string, string> = Object.fromEntries(
      secretSpecs(catalog).map((s, i) => [s.name, `value-${String(i)}-${'x'.repeat(30)}`]),
    );
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'DATAMANCY_API_TOKEN',
        'DATAMANCY_TOKEN_PROBE',
        'DATAMANCY_TOKEN_TOOL_SERVER',
        'DATAMANCY_TOKEN_LITELLM',
        'DATAMANCY_TOKEN_PROMETHEUS',
      ]),
    );
    const derived = new Map(derivedFiles(catalog, env).map((f) => [f.path, f]));
    const dir = mkdtempSync(join(tmpdir(), 'dm-tokens-'));
    try {
      const path = join(dir, 'tokens.json');
      writeFileSync(path, derived.get(TOKENS_FILE_PATH)?.create() ?? '');
      const tokens = loadTokensFile(path);
      const digest = (v: string | undefined) =>
        createHash('sha256')
          .update(v ?? '')
          .digest('hex');
      expect(tokens).toEqual([
        {
          name: 'admin',
          sha256: digest(env.DATAMANCY_API_TOKEN),
          scopes: ['admin'],
          kind: 'person',
        },
        ...['litellm', 'probe', 'prometheus', 'tool-server'].map((name) => ({
          name,
          sha256: digest(env[serviceTokenVar(name)]),
          scopes: [
            ...(catalog.services.find((s) => s.name === name)?.datamancyToken?.scopes ?? []),
          ].sort(),
          kind: 'service',
        })),
      ]);
      const digests = JSON.parse(derived.get(SECRET_DIGESTS_PATH)?.create() ?? '{}') as {
        sha256: string[];
      };
      expect(digests.sha256.sort()).toEqual(Object.values(env).map(digest).sort());
      expect(derived.get(PROMETHEUS_TOKEN_PATH)?.create()).toBe(env.DATAMANCY_TOKEN_PROMETHEUS);
      // deterministic files are valid exactly for the .env they came from
      const tokensFile = derived.get(TOKENS_FILE_PATH);
      expect(tokensFile?.valid(tokensFile.create())).toBe(true);
      const rotated = derivedFiles(catalog, { ...env, DATAMANCY_TOKEN_LITELLM: 'y'.repeat(40) });
      const fresh = rotated.find((f) => f.path === TOKENS_FILE_PATH);
      expect(fresh?.valid(tokensFile?.create() ?? '')).toBe(false);
      expect(
        rotated
          .find((f) => f.path === SECRET_DIGESTS_PATH)
          ?.valid(derived.get(SECRET_DIGESTS_PATH)?.create() ?? ''),
      ).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the catalog refuses a weaker boundary', () => {
  const issues = catalogIssues;
  const identity = MINIMAL_IDENTITY;
  const base = {
    description: 'x',
    profiles: ['bootstrap'],
    phase: 4,
    user: '1000',
    healthcheck: { test: ['CMD', 'true'] },
  };
  const proxy = {
    ...base,
    name: 'proxy',
    image: 'datamancy/control-plane:0.1.0',
    phase: 0,
    networks: ['docker'],
    dockerSocket: true,
    volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro'],
  };
  const client = {
    ...base,
    name: 'client',
    image: 'datamancy/control-plane:0.1.0',
    networks: ['backend', 'docker'],
    dependsOn: ['proxy'],
  };
  const edge = {
    ...base,
    name: 'caddy',
    image: 'caddy:2.8.4',
    phase: 2,
    networks: ['frontend', 'backend'],
    ipv4Address: { backend: '172.21.0.2' },
  };
  const app = {
    ...base,
    name: 'app',
    image: 'nginx:1.27',
    networks: ['backend'],
    port: 80,
    hostname: 'app',
    sso: 'forward-auth',
    trustedProxyEnv: ['TRUSTED'],
  };
  const of = (...services: unknown[]) => ({ version: 1, identity, services });

  it('accepts the boundary as the stack draws it', () => {
    expect(issues(of(proxy, client, edge, app))).toEqual([]);
  });

  it('refuses a socket holder on another network, and a non-holder with the socket', () => {
    expect(issues(of({ ...proxy, networks: ['docker', 'backend'] }, client))).toEqual([
      'services[0].networks: a socket holder is on one socket network (docker or docker-admin) and no other',
    ]);
    expect(
      issues(of({ ...proxy, networks: ['backend'] }, { ...client, networks: ['backend'] })),
    ).toEqual([
      'services[0].networks: a socket holder is on one socket network (docker or docker-admin) and no other',
    ]);
    expect(
      issues(of(proxy, { ...client, volumes: ['/run/podman/podman.sock:/var/run/docker.sock'] })),
    ).toEqual([
      'services[1].volumes[0]: only a socket holder (dockerSocket: true) mounts the engine socket',
    ]);
    expect(issues(of({ ...proxy, volumes: [] }, client))).toEqual([
      'services[0].volumes: a socket holder mounts the engine socket',
    ]);
    expect(issues(of(proxy, { ...client, dependsOn: [] }))).toEqual([
      'services[1].dependsOn: client is on docker to call proxy: it depends on it',
    ]);
    expect(issues(of({ ...client, dependsOn: [] }))).toEqual([
      'services[0].networks: no socket holder serves docker',
    ]);
    expect(issues(of(proxy, { ...proxy, name: 'proxy2' }))).toEqual([
      'services[1].networks: proxy already holds the socket on docker',
    ]);
  });

  it("refuses fixed addresses the engine could hand out, and trust without the edge's address", () => {
    const at = (address: string) => issues(of({ ...edge, ipv4Address: { backend: address } }, app));
    expect(at('172.21.0.200')).toEqual([
      "services[0].ipv4Address.backend: 172.21.0.200 is inside backend's dynamic range 172.21.0.128/25: a container could take it first",
    ]);
    expect(at('172.22.0.2')).toEqual([
      'services[0].ipv4Address.backend: 172.22.0.2 is not in backend (172.21.0.0/24)',
    ]);
    expect(at('172.21.0.1')).toEqual([
      "services[0].ipv4Address.backend: 172.21.0.1 is the network's own, gateway or broadcast address",
    ]);
    expect(issues(of({ ...edge, ipv4Address: { frontend: '172.20.0.2' } }, app))).toEqual([
      'services[0].ipv4Address.frontend: frontend has no dynamic range (ip_range) to keep fixed addresses out of',
      'services[1].trustedProxyEnv[0]: caddy has no fixed address (ipv4Address) on a network app is on',
    ]);
    expect(
      issues(of(edge, { ...app, sso: 'bypass', environment: { TRUSTED: '172.21.0.0/24' } })),
    ).toEqual([
      'services[1].trustedProxyEnv[0]: only a forward-auth service is sent SSO headers',
      'services[1].trustedProxyEnv[0]: TRUSTED is set by the renderer, not in environment',
    ]);
  });

  it("refuses the admin token in a service, another service's token, and an admin-scoped service token", () => {
    expect(
      issues(of({ ...app, trustedProxyEnv: [], environment: { T: '${DATAMANCY_API_TOKEN}' } })),
    ).toEqual([
      'services[0].environment.T: the admin token DATAMANCY_API_TOKEN stays with the operator: give app a datamancyToken',
    ]);
    const holder = {
      ...app,
      name: 'holder',
      hostname: 'holder',
      trustedProxyEnv: [],
      datamancyToken: { scopes: ['browser.use'] },
    };
    expect(
      issues(
        of(holder, {
          ...app,
          trustedProxyEnv: [],
          environment: { T: '${DATAMANCY_TOKEN_HOLDER}' },
        }),
      ),
    ).toEqual(["services[1].environment.T: DATAMANCY_TOKEN_HOLDER is holder's token, not app's"]);
    expect(issues(of({ ...holder, datamancyToken: { scopes: ['admin'] } }))).toEqual([
      "services[0].datamancyToken.scopes[0]: a service token never holds admin (that is the operator's token)",
    ]);
    expect(
      issues({
        ...of({ ...holder, name: 'litellm' }),
        ai: { models: [{ name: 'm', service: 'litellm', apiKeyEnv: 'DATAMANCY_API_TOKEN' }] },
      }),
    ).toEqual([
      'ai.models[0].apiKeyEnv: LiteLLM sends DATAMANCY_TOKEN_LITELLM (its own token), not DATAMANCY_API_TOKEN',
    ]);
  });
});
