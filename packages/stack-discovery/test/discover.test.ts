import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { expandManifest } from '@datamancy/probe';
import {
  breakCycles,
  buildDiscovery,
  discoverStack,
  mergeComposeFiles,
  parseCaddyfile,
  parseComposeFile,
  refersTo,
  renderGraphText,
  renderManifest,
  templateDomain,
  type DiscoveryResult,
  type EngineSnapshot,
} from '../src/index.ts';

const STACK = fileURLToPath(new URL('./fixtures/stack', import.meta.url));
const env = { POSTGRES_PASSWORD: 'pw' };

function discoverFixture(profiles: string[]): Promise<DiscoveryResult> {
  return discoverStack({
    composeFiles: [join(STACK, 'docker-compose.yml'), join(STACK, 'docker-compose.override.yml')],
    caddyfile: join(STACK, 'Caddyfile'),
    profiles,
    domain: 'example.org',
    env,
  });
}

const edgesOf = (result: DiscoveryResult, from: string): string[] =>
  result.graph.edges.filter((e) => e.from === from).map((e) => `${e.to}:${e.reason}`);

const compose = (text: string) =>
  mergeComposeFiles([parseComposeFile(text, 'compose.yml', { env: {} })], 'demo');

describe('discovery from compose files and the Caddyfile', () => {
  it('builds a manifest the probe accepts, with ${DOMAIN} for the stack domain', async () => {
    const result = await discoverFixture(['bootstrap', 'databases', 'applications']);
    const expanded = expandManifest(result.manifest, {
      domain: 'example.org',
      defaultIntervalS: 30,
    });
    expect(expanded.services.map((s) => s.name)).toEqual([
      'caddy',
      'authelia',
      'ldap',
      'redis',
      'postgres',
      'mariadb',
      'grafana',
      'open-webui',
      'wiki',
      'vaultwarden',
      'homepage',
      'mailpit',
      'uptime-kuma',
    ]);
    const byName = new Map(result.manifest.services.map((s) => [s.name, s]));
    expect(byName.get('grafana')).toEqual({
      name: 'grafana',
      container: 'datamancy-grafana-1',
      group: 'applications',
      dependsOn: ['postgres', 'authelia', 'ldap', 'redis'],
      internal: [],
      external: ['https://grafana.${DOMAIN}'],
      checks: [
        {
          kind: 'http',
          name: 'healthcheck',
          url: 'http://grafana:3000/api/health',
          expectStatus: ['200-399'],
        },
      ],
    });
    // a label's external hostname and the Caddy route agree: listed once
    expect(byName.get('open-webui')).toMatchObject({
      internal: ['http://open-webui:8080/health'],
      external: ['https://chat.${DOMAIN}', 'https://ai.${DOMAIN}'],
    });
    expect(byName.get('vaultwarden')).toMatchObject({
      description: 'not managed by datamancy (datamancy.manage=false)',
      group: 'secrets',
      external: ['https://vault.${DOMAIN}/admin', 'https://vault.${DOMAIN}'],
      checks: [{ url: 'http://vaultwarden:80/alive' }],
    });
    expect(byName.get('caddy')?.container).toBe('caddy');
    // a database by image, whatever its name: a TCP check on its port
    expect(byName.get('mariadb')?.checks).toEqual([{ kind: 'tcp', host: 'mariadb', port: 3306 }]);
    expect(byName.get('redis')?.checks).toEqual([{ kind: 'tcp', host: 'redis', port: 6379 }]);
    // nothing to say about ldap: the probe's well-known-port fallback takes over
    expect(expanded.services.find((s) => s.name === 'ldap')?.checks[0]).toMatchObject({
      kind: 'tcp',
      port: 389,
    });
    expect(byName.get('mailpit')).toMatchObject({
      group: 'tools',
      internal: ['http://mailpit:8025/livez'],
    });
    const grafanaChecks = expanded.services.find((s) => s.name === 'grafana')?.checks;
    expect(grafanaChecks?.find((c) => c.name === 'external')).toMatchObject({
      url: 'https://grafana.example.org',
    });
  });

  it('draws depends_on, database and sso edges; the identity services include what authelia needs', async () => {
    const result = await discoverFixture(['bootstrap', 'databases', 'applications']);
    expect(edgesOf(result, 'authelia')).toEqual([
      'ldap:depends_on',
      'redis:depends_on',
      'redis:database',
      'postgres:database',
    ]);
    expect(edgesOf(result, 'grafana')).toEqual([
      'postgres:depends_on',
      'postgres:database',
      'authelia:sso',
      'ldap:sso',
      'redis:sso',
    ]);
    expect(result.graph.edges.find((e) => e.from === 'authelia' && e.to === 'redis')).toMatchObject(
      { condition: 'service_healthy' },
    );
    // postgresql://…@postgres:5432 and DB_HOST=mariadb, not POSTGRES_USER=postgres
    expect(edgesOf(result, 'open-webui')).toContain('postgres:database');
    expect(edgesOf(result, 'wiki')).toEqual([
      'mariadb:depends_on',
      'mariadb:database',
      'authelia:sso',
      'ldap:sso',
      'redis:sso',
    ]);
    // the SSO portal is public: no sso edge to itself or from its public route
    expect(edgesOf(result, 'authelia').some((e) => e.endsWith(':sso'))).toBe(false);
    expect(edgesOf(result, 'mailpit')).toEqual([]);
    expect(result.graph.nodes.find((n) => n.name === 'grafana')?.sources).toEqual([
      'compose',
      'caddy',
    ]);
    expect(result.graph.nodes.find((n) => n.name === 'uptime-kuma')?.sources).toEqual(['caddy']);
    expect(result.graph.nodes.find((n) => n.name === 'vaultwarden')?.manage).toBe(false);
    expect(result.graph.cycles).toEqual([]);
    expect(result.warnings).toEqual([
      'db-init runs to completion (service_completed_successfully); not probed',
      expect.stringMatching(/Caddyfile:56: upstream vllm is in an inactive profile; skipped$/),
      expect.stringMatching(
        /Caddyfile:66: upstream uptime-kuma is no compose service or container/,
      ),
    ]);
  });

  it('leaves out services of inactive profiles, and says what that cuts off', async () => {
    const result = await discoverFixture(['applications']);
    expect(result.manifest.services.map((s) => s.name)).toEqual([
      'grafana',
      'open-webui',
      'wiki',
      'vaultwarden',
      'homepage',
      'mailpit',
      'uptime-kuma',
    ]);
    expect(result.manifest.services.find((s) => s.name === 'grafana')?.dependsOn).toEqual([]);
    expect(result.warnings).toContain('grafana depends on postgres, whose profile is not active');
    expect(result.warnings).toContain('wiki depends on mariadb, whose profile is not active');
    expect(
      result.warnings.some((w) => /forward_auth upstream authelia is in an inactive/.test(w)),
    ).toBe(true);
    expandManifest(result.manifest, { domain: 'example.org', defaultIntervalS: 30 });
  });

  it('renders YAML and JSON that read back as the manifest, and the graph as text', async () => {
    const result = await discoverFixture(['*']);
    const yaml = renderManifest(result.manifest, 'yaml', 'generated\nby a test');
    expect(yaml.startsWith('# generated\n# by a test\nversion: 1\n')).toBe(true);
    const fromYaml = parseYaml(yaml) as unknown;
    const fromJson = JSON.parse(renderManifest(result.manifest, 'json')) as unknown;
    expect(fromYaml).toEqual(fromJson);
    // empty lists are left out; the probe fills them in
    expect(yaml).not.toContain('[]');
    const a = expandManifest(fromYaml, { domain: 'example.org', defaultIntervalS: 30 });
    const b = expandManifest(result.manifest, { domain: 'example.org', defaultIntervalS: 30 });
    expect(a).toEqual(b);
    expect(a.services.some((s) => s.name === 'vllm')).toBe(true);
    const text = renderGraphText(result.graph);
    expect(text).toContain('grafana -> postgres (depends_on: service_healthy)\n');
    expect(text).toContain('vllm -> authelia (sso)\n');
    expect(text).toContain('\nmailpit\n');
  });
});

describe('graph rules', () => {
  it('recognises database references only where they point at the host', () => {
    expect(refersTo('DB_HOST', 'postgres', 'postgres')).toBe(true);
    expect(refersTo('POSTGRES_USER', 'postgres', 'postgres')).toBe(false);
    expect(refersTo('DATABASE_URL', 'postgres://u:p@postgres/app', 'postgres')).toBe(true);
    expect(refersTo(undefined, 'tcp://postgres:5432', 'postgres')).toBe(true);
    expect(refersTo('DSN', 'host=postgres port=5432 dbname=x', 'postgres')).toBe(true);
    expect(refersTo('REDIS', 'redis://cache-redis:6379', 'redis')).toBe(false);
    expect(refersTo('X', 'mongodb:27017', 'db')).toBe(false);
  });

  it('reports a cycle and breaks it at its weakest link so the probe accepts the manifest', () => {
    const result = buildDiscovery({
      compose: compose(
        [
          'services:',
          '  pg:',
          '    image: postgres:16',
          '    depends_on: [vault-agent]',
          '  vault-agent:',
          '    image: example/vault-agent',
          '    environment: {STORAGE_URL: "postgres://vault@pg:5432/vault"}',
          '  a:',
          '    image: example/a',
          '    depends_on: [b]',
          '  b:',
          '    image: example/b',
          '    depends_on: [a]',
        ].join('\n'),
      ),
    });
    expect(result.graph.cycles).toEqual([
      ['pg', 'vault-agent', 'pg'],
      ['a', 'b', 'a'],
    ]);
    // the database edge goes; the explicit depends_on stays; among equals, the closing link
    expect(result.manifest.services.find((s) => s.name === 'vault-agent')?.dependsOn).toEqual([]);
    expect(result.manifest.services.find((s) => s.name === 'pg')?.dependsOn).toEqual([
      'vault-agent',
    ]);
    expect(result.manifest.services.find((s) => s.name === 'b')?.dependsOn).toEqual([]);
    expect(result.graph.edges).toHaveLength(4);
    expect(result.warnings).toEqual([
      'dependency cycle: pg → vault-agent → pg; vault-agent → pg (database) left out of the manifest',
      'dependency cycle: a → b → a; b → a (depends_on) left out of the manifest',
    ]);
    expandManifest(result.manifest, { domain: 'x.org', defaultIntervalS: 30 });
    expect(breakCycles([{ from: 'x', to: 'y', reason: 'sso' }])).toEqual({
      cycles: [],
      dropped: [],
    });
  });

  it('maps a loopback upstream to the service publishing that port, and templates the domain', () => {
    const result = buildDiscovery({
      compose: compose(
        'services:\n  app:\n    image: example/app\n    ports: ["127.0.0.1:8080:80"]\n',
      ),
      caddy: parseCaddyfile('app.example.org {\n  reverse_proxy localhost:8080\n}\n', 'C', {
        env: {},
      }),
      domain: 'example.org',
    });
    expect(result.manifest.services).toEqual([
      {
        name: 'app',
        container: 'demo-app-1',
        dependsOn: [],
        internal: [],
        external: ['https://app.${DOMAIN}'],
        checks: [],
      },
    ]);
    expect(templateDomain('https://example.org/x', 'example.org')).toBe('https://${DOMAIN}/x');
    expect(templateDomain('https://notexample.org/', 'example.org')).toBe(
      'https://notexample.org/',
    );
    expect(templateDomain('http://a.b.EXAMPLE.org:8443/', 'example.org')).toBe(
      'http://a.b.${DOMAIN}:8443/',
    );
  });

  it('names compose containers from the engine and adds the running containers compose lacks', () => {
    const engine: EngineSnapshot = {
      endpoint: 'unix:///test.sock',
      containers: [
        {
          name: 'other-web-1',
          image: 'x',
          state: 'running',
          labels: {},
          compose: { project: 'other', service: 'web', dependsOn: [] },
          ports: [],
        },
        {
          name: 'demo-web-1',
          image: 'x',
          state: 'running',
          labels: {},
          compose: { project: 'demo', service: 'web', dependsOn: [] },
          ports: [],
        },
        {
          name: 'watchtower',
          image: 'containrrr/watchtower',
          state: 'running',
          labels: { 'datamancy.group': 'ops', 'datamancy.probe.url': 'not a url' },
          compose: { dependsOn: ['web'] },
          ports: [],
        },
        {
          name: 'legacy-cache-1',
          image: 'redis',
          state: 'running',
          labels: {},
          compose: { project: 'legacy', service: 'cache', dependsOn: [] },
          ports: [],
        },
        {
          name: 'old-job',
          image: 'x',
          state: 'exited',
          labels: {},
          compose: { dependsOn: [] },
          ports: [],
        },
      ],
    };
    const result = buildDiscovery({
      compose: compose(
        'services:\n  web:\n    image: nginx\n  api:\n    image: example/api\n  cache:\n    image: redis\n',
      ),
      engine,
    });
    expect(result.manifest.services).toEqual([
      expect.objectContaining({ name: 'web', container: 'demo-web-1' }),
      expect.objectContaining({ name: 'api', container: 'demo-api-1' }),
      // only another project runs it: taken, with a warning
      expect.objectContaining({ name: 'cache', container: 'legacy-cache-1' }),
      // another project's web: a running container compose does not know here
      expect.objectContaining({
        name: 'other-web-1',
        container: 'other-web-1',
        checks: [{ kind: 'container' }],
      }),
      {
        name: 'watchtower',
        container: 'watchtower',
        group: 'ops',
        dependsOn: ['web'],
        internal: [],
        external: [],
        checks: [{ kind: 'container' }],
      },
    ]);
    expect(result.graph.nodes.map((n) => `${n.name}:${n.sources.join('+')}`)).toEqual([
      'web:compose+engine',
      'api:compose',
      'cache:compose+engine',
      'other-web-1:engine',
      'watchtower:engine',
    ]);
    expect(result.warnings).toEqual([
      'api: no container in the engine (unix:///test.sock)',
      'cache: container legacy-cache-1 belongs to compose project legacy, not demo',
      'container watchtower.labels["datamancy.probe.url"]: "not a url" is not an http(s) URL; ignored',
    ]);
    expandManifest(result.manifest, { domain: 'x.org', defaultIntervalS: 30 });
  });
});
