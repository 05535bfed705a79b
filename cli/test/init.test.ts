import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  ldapAdminDn,
  ldapUserDn,
  ldapUserPasswordVar,
  loadCatalog,
  oidcDigestFile,
  oidcSecretVar,
  SECRET_DIGESTS_PATH,
  secretSpecs,
  serviceTokens,
  serviceTokenVar,
  TOKENS_FILE_PATH,
} from '@datamancy/catalog';
import { loadTokensFile } from '@datamancy/core';
import { interpolate, parseDotEnv } from '@datamancy/stack-discovery';
import { startPostgres, startSlapd } from '@datamancy/testkit';
import { ensureDirectories } from '../src/stack-runner/apply.ts';
import { planStack, selectServices } from '../src/stack-runner/plan.ts';
import { runCli } from './helpers.ts';

/**
 * `datamancy init` and `datamancy secrets`, checked with independent implementations: passlib
 * verifies Authelia's client digests, openssl the issuer key, a real slapd loads the LDIF and
 * binds with the passwords from .env, a real PostgreSQL runs the first-start script, promtool
 * and caddy validate their configurations with the values from .env.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-passlib lives

let work: string;
let stack: string;
let env: Record<string, string>;

const init = (...args: string[]) => runCli(['init', '--dir', stack, ...args], { cwd: work });
const readEnv = () => parseDotEnv(readFileSync(join(stack, '.env'), 'utf8'));
const catalog = loadCatalog(join(ROOT, 'stack', 'catalog.yaml'));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'dm-init-'));
  stack = join(work, 'stack');
  cpSync(join(ROOT, 'stack', 'catalog.yaml'), join(stack, 'catalog.yaml'), { recursive: true });
  const res = await init('--domain', 'example.org');
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  env = readEnv();
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('datamancy init', () => {
  it('writes .env (mode 600) with every variable the compose file needs and nothing else', () => {
    expect(statSync(join(stack, '.env')).mode & 0o777).toBe(0o600);
    const compose = readFileSync(join(stack, 'docker-compose.yml'), 'utf8');
    // compose's own interpolation, with .env as the environment: nothing missing
    const missing = new Set<string>();
    interpolate(compose, { env, onMissing: (name) => missing.add(name) });
    expect([...missing]).toEqual([]);
    // and every name in .env is read: by the compose file, or it is a bootstrap account's
    // password (hashed into ldap/secrets), a Datamancy token (its digest in the tokens file:
    // the operator's admin token, Prometheus' scrape token), or compose's project name
    const accounts = catalog.identity.users.map((u) => ldapUserPasswordVar(u.uid));
    const tokens = ['DATAMANCY_API_TOKEN', ...serviceTokens(catalog).map((t) => t.envVar)];
    for (const name of Object.keys(env)) {
      const read =
        compose.includes(`\${${name}}`) ||
        compose.includes(`\${${name}:-`) ||
        accounts.includes(name) ||
        tokens.includes(name) ||
        name === 'COMPOSE_PROJECT_NAME';
      expect(read, `${name} is not read by the stack`).toBe(true);
    }
    expect(env.DOMAIN).toBe('example.org');
    expect(env.CADDY_TLS).toBe('email admin@example.org'); // a public domain: ACME
    // CSPRNG values, distinct, long enough; none printed
    const secrets = Object.entries(env).filter(([k]) => /PASSWORD|SECRET|KEY|TOKEN/.test(k));
    expect(secrets.length).toBeGreaterThan(20);
    expect(new Set(secrets.map(([, v]) => v)).size).toBe(secrets.length);
    for (const [k, v] of secrets) expect(v.length, k).toBeGreaterThanOrEqual(32);
    expect(env.LITELLM_MASTER_KEY).toMatch(/^sk-[0-9a-f]{48}$/);
  });

  it('keeps every secret and derived file on a re-run', async () => {
    const before = readFileSync(join(stack, '.env'), 'utf8');
    const derived = [
      'ldap/secrets/admin.ssha',
      oidcDigestFile('outline'),
      'authelia/secrets/oidc-issuer.pem',
    ];
    const contents = derived.map((f) => readFileSync(join(stack, f), 'utf8'));
    const res = await init();
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/\(0 new, \d+ kept\)/);
    expect(res.stdout).toContain('derived files: 10 kept');
    expect(readFileSync(join(stack, '.env'), 'utf8')).toBe(before);
    expect(derived.map((f) => readFileSync(join(stack, f), 'utf8'))).toEqual(contents);
    for (const value of Object.values(env).filter((v) => v.length >= 32))
      expect(res.stdout).not.toContain(value);
  });

  it('re-runs with no flags on an internal-CA stack, keeping its TLS mode', async () => {
    const other = join(work, 'internal');
    cpSync(join(ROOT, 'stack', 'catalog.yaml'), join(other, 'catalog.yaml'));
    const first = await runCli(['init', '--dir', other, '--domain', 'lab.internal'], { cwd: work });
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli(['init', '--dir', other], { cwd: work });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("TLS by Caddy's internal CA");
    expect(parseDotEnv(readFileSync(join(other, '.env'), 'utf8')).CADDY_TLS).toBe('local_certs');
  });

  it("writes Authelia client digests that passlib's PBKDF2-SHA512 verifies", () => {
    const oidc = catalog.services.filter((s) => s.sso === 'oidc');
    expect(oidc.length).toBeGreaterThan(2);
    const pairs = oidc.map((s) => [
      env[oidcSecretVar(s.name)] ?? '',
      readFileSync(join(stack, oidcDigestFile(s.name)), 'utf8'),
    ]);
    pairs.push([`${pairs[0]?.[0] ?? ''}x`, pairs[0]?.[1] ?? '']); // a wrong secret: false
    const script = [
      'import json, sys',
      'from passlib.hash import pbkdf2_sha512',
      'pairs = json.load(sys.stdin)',
      'print(json.dumps([pbkdf2_sha512.verify(s, d) for s, d in pairs]))',
    ].join('\n');
    const out = execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(pairs) }).toString();
    expect(JSON.parse(out)).toEqual([...oidc.map(() => true), false]);
    // and the digest is what Authelia's config reads through its secret template
    const authelia = readFileSync(join(stack, 'authelia', 'configuration.yml'), 'utf8');
    expect(authelia).toContain('{{ secret "/config/secrets/oidc-outline.digest" }}');
  });

  it('writes an RSA issuer key openssl accepts', () => {
    const out = execFileSync('openssl', [
      'pkey',
      '-in',
      join(stack, 'authelia', 'secrets', 'oidc-issuer.pem'),
      '-noout',
      '-text_pub',
    ]).toString();
    expect(out).toMatch(/Public-Key: \((3072|4096) bit\)/);
    expect(statSync(join(stack, 'authelia', 'secrets', 'oidc-issuer.pem')).mode & 0o777).toBe(
      0o600,
    );
  });

  it('bootstraps a real slapd from the rendered LDIF; the .env passwords bind', async () => {
    // In the container ./ldap is mounted at /ldifs; here the LDIF's file references point at
    // the same files where init wrote them.
    const ldif = readFileSync(join(stack, 'ldap', 'bootstrap.ldif'), 'utf8').replaceAll(
      'file:///ldifs/',
      `file://${join(stack, 'ldap')}/`,
    );
    const ldifPath = join(work, 'bootstrap.ldif');
    writeFileSync(ldifPath, ldif);
    const slapd = await startSlapd({ suffix: catalog.identity.baseDn, ldifFiles: [ldifPath] });
    try {
      const whoami = (dn: string, password: string) =>
        spawnSync('ldapwhoami', ['-x', '-H', slapd.url, '-D', dn, '-w', password], {
          encoding: 'utf8',
        });
      const admin = whoami(ldapAdminDn(catalog), env.LDAP_ADMIN_PASSWORD ?? '');
      expect(admin.stderr).toBe('');
      expect(admin.stdout.trim()).toBe(`dn:${ldapAdminDn(catalog)}`);
      for (const user of catalog.identity.users) {
        const res = whoami(ldapUserDn(catalog, user.uid), env[ldapUserPasswordVar(user.uid)] ?? '');
        expect(res.stdout.trim()).toBe(`dn:${ldapUserDn(catalog, user.uid)}`);
      }
      const wrong = whoami(ldapAdminDn(catalog), 'not-the-password');
      expect(wrong.status).toBe(49); // invalid credentials
      // group memberships as the catalog says
      const search = execFileSync('ldapsearch', [
        '-x',
        '-LLL',
        '-H',
        slapd.url,
        '-D',
        ldapAdminDn(catalog),
        '-w',
        env.LDAP_ADMIN_PASSWORD ?? '',
        '-b',
        `ou=groups,${catalog.identity.baseDn}`,
        '(objectClass=groupOfNames)',
        'cn',
        'member',
      ]).toString();
      const members = new Map<string, string[]>();
      for (const entry of search.trim().split(/\n\n+/)) {
        const cn = /^cn: (.+)$/m.exec(entry)?.[1] ?? '';
        members.set(cn, [...entry.matchAll(/^member: (.+)$/gm)].map((m) => m[1] ?? '').sort());
      }
      for (const group of catalog.identity.groups) {
        const expected = catalog.identity.users
          .filter((u) => u.groups.includes(group.name))
          .map((u) => ldapUserDn(catalog, u.uid))
          .sort();
        expect(members.get(group.name), group.name).toEqual(expected);
      }
    } finally {
      await slapd.close();
    }
  }, 30_000);

  it("runs PostgreSQL's first-start script: each app's role logs in to its own database", async () => {
    const pgServer = await startPostgres({
      hostAuth: 'scram-sha-256',
      superuserPassword: 'root-pw',
    });
    try {
      const script = join(stack, 'postgres', 'init-databases.sh');
      expect(statSync(script).mode & 0o111).not.toBe(0); // the entrypoint runs it
      const res = spawnSync('sh', [script], {
        // as the image's entrypoint does: the local socket, the app passwords in the env
        env: {
          ...env,
          PATH: process.env.PATH,
          POSTGRES_USER: 'postgres',
          PGHOST: pgServer.socketDir,
          PGPORT: String(pgServer.port),
        },
        encoding: 'utf8',
      });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      const owners = catalog.services.flatMap((s) => (s.database ? [s.database] : []));
      expect(owners.length).toBeGreaterThan(3);
      for (const db of owners) {
        const client = new pg.Client({
          host: '127.0.0.1',
          port: pgServer.port,
          user: db.name,
          database: db.name,
          password: env[db.passwordVar],
        });
        await client.connect();
        const row = await client.query<{ user: string; db: string }>(
          'SELECT current_user AS user, current_database() AS db',
        );
        expect(row.rows[0]).toEqual({ user: db.name, db: db.name });
        await client.query('CREATE TABLE owned (id int)'); // it owns its database
        await client.end();
      }
      const wrong = new pg.Client({
        host: '127.0.0.1',
        port: pgServer.port,
        user: owners[0]?.name,
        database: owners[0]?.name,
        password: 'nope',
      });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    } finally {
      await pgServer.close();
    }
  }, 60_000);

  it('renders a Prometheus configuration promtool accepts, with the token init wrote', () => {
    // promtool resolves credentials_file: point it at init's copy of the token
    const prom = readFileSync(join(stack, 'prometheus', 'prometheus.yml'), 'utf8').replaceAll(
      '/etc/prometheus/secrets/',
      `${join(stack, 'prometheus', 'secrets')}/`,
    );
    const path = join(work, 'prometheus.yml');
    writeFileSync(path, prom);
    const res = spawnSync('promtool', ['check', 'config', path], { encoding: 'utf8' });
    expect(res.stdout + res.stderr).toContain('SUCCESS');
    expect(res.status).toBe(0);
    expect(readFileSync(join(stack, 'prometheus', 'secrets', 'token'), 'utf8')).toBe(
      env.DATAMANCY_TOKEN_PROMETHEUS,
    );
    const jobs = (parseYaml(prom) as { scrape_configs: { job_name: string }[] }).scrape_configs.map(
      (j) => j.job_name,
    );
    expect(jobs).toEqual(
      expect.arrayContaining(['tool-server', 'browser', 'probe', 'model-router', 'speech-gateway']),
    );
  });

  it('renders a Caddyfile caddy validates with the TLS choice from .env (ACME and internal)', async () => {
    const internal = mkdtempSync(join(tmpdir(), 'dm-init-int-'));
    try {
      cpSync(join(ROOT, 'stack', 'catalog.yaml'), join(internal, 'catalog.yaml'));
      const res = await runCli(['init', '--dir', internal, '--domain', 'lab.internal'], {
        cwd: work,
      });
      expect(res.code).toBe(0);
      const internalEnv = parseDotEnv(readFileSync(join(internal, '.env'), 'utf8'));
      expect(internalEnv.CADDY_TLS).toBe('local_certs');
      // the edge CA init wrote, where the compose file mounts it into Caddy
      const config = join(internal, 'Caddyfile.host');
      writeFileSync(
        config,
        readFileSync(join(stack, 'caddy', 'Caddyfile'), 'utf8')
          .replaceAll('/etc/caddy/edge-ca-key/', `${join(stack, 'secrets', 'edge-ca-key')}/`)
          .replaceAll('/etc/caddy/edge-ca/', `${join(stack, 'secrets', 'edge-ca')}/`),
      );
      for (const e of [env, internalEnv]) {
        const out = spawnSync('caddy', ['validate', '--config', config, '--adapter', 'caddyfile'], {
          env: {
            PATH: process.env.PATH,
            HOME: work,
            XDG_DATA_HOME: work,
            XDG_CONFIG_HOME: work,
            ...e,
          },
          encoding: 'utf8',
        });
        expect(out.stdout + out.stderr, e.CADDY_TLS).toContain('Valid configuration');
      }
    } finally {
      rmSync(internal, { recursive: true, force: true });
    }
  }, 60_000);

  it("writes each service's own token and a tokens file of digests core loads", () => {
    const digest = (v: string | undefined) =>
      createHash('sha256')
        .update(v ?? '')
        .digest('hex');
    const holders = serviceTokens(catalog);
    expect(holders.map((t) => t.service)).toEqual([
      'litellm',
      'probe',
      'prometheus',
      'tool-server',
    ]);
    for (const name of ['DATAMANCY_API_TOKEN', ...holders.map((t) => t.envVar)])
      expect(env[name], name).toMatch(/^dmcy_[A-Za-z0-9_-]{43}$/); // core's generateToken
    const path = join(stack, TOKENS_FILE_PATH);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const entries = loadTokensFile(path);
    expect(entries).toEqual([
      { name: 'admin', sha256: digest(env.DATAMANCY_API_TOKEN), scopes: ['admin'], kind: 'person' },
      ...holders.map((t) => ({
        name: t.service,
        sha256: digest(env[t.envVar]),
        scopes: [...t.scopes].sort(),
        kind: 'service',
      })),
    ]);
    // the file holds digests only: no token appears in it
    const text = readFileSync(path, 'utf8');
    for (const name of ['DATAMANCY_API_TOKEN', ...holders.map((t) => t.envVar)])
      expect(text).not.toContain(env[name] ?? '');
    // LiteLLM and Prometheus hold nothing that mutates
    for (const name of ['litellm', 'prometheus']) {
      const scopes = entries.find((e) => e.name === name)?.scopes ?? [];
      for (const bad of ['host.docker.write', 'host.network.ssh', 'admin'] as const)
        expect(scopes, name).not.toContain(bad);
    }
    // Prometheus' token file is its own token
    expect(readFileSync(join(stack, 'prometheus', 'secrets', 'token'), 'utf8')).toBe(
      env[serviceTokenVar('prometheus')],
    );
  });

  it('writes the digest of every .env secret for the tool server to redact', () => {
    const digest = (v: string) => createHash('sha256').update(v).digest('hex');
    const doc = JSON.parse(readFileSync(join(stack, SECRET_DIGESTS_PATH), 'utf8')) as {
      sha256: string[];
    };
    const secrets = secretSpecs(catalog).map((s) => env[s.name] ?? '');
    expect(secrets.length).toBeGreaterThan(20);
    expect(secrets.every((v) => v.length >= 32)).toBe(true);
    expect(doc.sha256).toEqual([...new Set(secrets.map(digest))].sort());
    // settings are not secrets
    expect(doc.sha256).not.toContain(digest(env.DOMAIN ?? ''));
  });

  it('writes the ops SSH key pair', () => {
    const dir = join(stack, 'secrets', 'ops');
    expect(readdirSync(dir).sort()).toEqual(['id_ed25519', 'id_ed25519.pub']);
    expect(statSync(join(dir, 'id_ed25519')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'id_ed25519.pub'), 'utf8')).toMatch(
      /^ssh-ed25519 \S+ datamancy-ops\n$/,
    );
  });

  it('writes the edge CA: a certificate every service may read, its key (600) only for Caddy', () => {
    const cert = new X509Certificate(readFileSync(join(stack, 'secrets/edge-ca/root.crt')));
    const keyPath = join(stack, 'secrets/edge-ca-key/root.key');
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain('CN=Datamancy edge CA for example.org');
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(keyPath)))).toBe(true);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(stack, 'secrets/edge-ca/root.crt')).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(stack, 'secrets/edge-ca'))).toEqual(['root.crt']);
    // who mounts what: the key's directory into caddy alone
    const compose = parseYaml(readFileSync(join(stack, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { volumes?: string[] }>;
    };
    const mounting = (dir: string) =>
      Object.entries(compose.services)
        .filter(([, s]) => (s.volumes ?? []).some((v) => v.startsWith(`./secrets/${dir}:`)))
        .map(([name]) => name)
        .sort();
    expect(mounting('edge-ca-key')).toEqual(['caddy']);
    expect(mounting('edge-ca')).toEqual(['browser', 'caddy', 'probe']);
  });

  it('refuses bad input with a clear message and exit 2, losing nothing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'dm-init-empty-'));
    try {
      cpSync(join(ROOT, 'stack', 'catalog.yaml'), join(empty, 'catalog.yaml'));
      const first = await runCli(['init', '--dir', empty], { cwd: work });
      expect(first.code).toBe(2);
      expect(first.stderr).toContain('--domain is required');
      const before = readFileSync(join(stack, '.env'), 'utf8');
      for (const [args, message] of [
        [['--domain', 'not a domain'], '--domain: "not a domain" is not a host name'],
        [['--tls', 'selfsigned'], '--tls: "selfsigned" is not internal or acme'],
        [['--allow-api', '10.0.0.0'], '--allow-api: "10.0.0.0" is not an address range'],
      ] as const) {
        const res = await init(...args);
        expect(res.code, args.join(' ')).toBe(2);
        expect(res.stderr).toContain(message);
      }
      expect(readFileSync(join(stack, '.env'), 'utf8')).toBe(before);
      const noCatalog = await runCli(
        ['init', '--dir', join(work, 'nowhere'), '--domain', 'x.org'],
        { cwd: work },
      );
      expect(noCatalog.code).toBe(2);
      expect(noCatalog.stderr).toContain('no catalog at');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the initialised stack, as datamancy up plans it', () => {
  it('plans every service of the rendered compose file with the values from .env', () => {
    const plan = planStack(readFileSync(join(stack, 'docker-compose.yml'), 'utf8'), {
      stackDir: stack,
      env,
    });
    expect(plan.services).toHaveLength(catalog.services.length);
    const by = (name: string) => plan.services.find((s) => s.name === name);
    expect((by('caddy')?.body.HostConfig as { PortBindings: unknown }).PortBindings).toEqual({
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '80' }],
      '443/tcp': [{ HostIp: '0.0.0.0', HostPort: '443' }],
    });
    expect((by('vllm')?.body.HostConfig as { DeviceRequests: unknown }).DeviceRequests).toEqual([
      { Driver: 'nvidia', Count: 1, Capabilities: [['gpu']] },
    ]);
    expect((by('postgres')?.body.HostConfig as { Memory: number }).Memory).toBe(1024 ** 3);
    expect(by('postgres')?.body.Env).toContain(
      `OUTLINE_DB_PASSWORD=${env.OUTLINE_DB_PASSWORD ?? ''}`,
    );
    // every mounted file or directory exists after init, except the data directories up makes
    for (const s of plan.services) {
      for (const b of s.binds.filter((x) => !x.dataDir && !x.source.endsWith('docker.sock')))
        expect(existsSync(b.source), `${s.name}: ${b.source}`).toBe(true);
    }
    // the directories up/volumes prepare: data owned by each service's user, and the secrets
    // a non-root service reads given to it (LDAP's hashes to 1001, Prometheus' token to 65534)
    const dirs = ensureDirectories(selectServices(plan, ['bootstrap', 'applications']), stack);
    const owner = (path: string) => dirs.find((d) => d.path === join(stack, path))?.owner;
    expect(owner('ldap/secrets')).toBe('1001:1001');
    expect(owner('prometheus/secrets')).toBe('65534:65534');
    expect(owner('secrets/ops')).toBe('1000:1000');
    expect(owner('secrets/tokens')).toBe('1000:1000');
    expect(owner('secrets/redaction')).toBe('1000:1000');
    expect(owner('data/grafana-data')).toBe('472:472');
    expect(statSync(join(stack, 'ldap', 'secrets', 'admin.ssha')).uid).toBe(1001);
    expect(statSync(join(stack, 'data', 'postgres-data')).isDirectory()).toBe(true);
    // a profile alone is dependency-closed
    for (const profile of ['bootstrap', 'applications', 'infrastructure', 'databases']) {
      const chosen = new Set(selectServices(plan, [profile]).map((s) => s.name));
      for (const s of selectServices(plan, [profile]))
        for (const d of s.dependsOn)
          expect(chosen.has(d.service), `${profile}: ${s.name} → ${d.service}`).toBe(true);
    }
  });
});

describe('datamancy secrets', () => {
  it('lists secrets with their readers, never values', async () => {
    const res = await runCli(['secrets', 'list', '--dir', stack], { cwd: work });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^OIDC_OUTLINE_SECRET\s+set\s+outline → authelia\/secrets\/oidc-outline\.digest$/m,
    );
    expect(res.stdout).toMatch(/^POSTGRES_PASSWORD\s+set\s+postgres$/m);
    for (const value of Object.values(env).filter((v) => v.length >= 32))
      expect(res.stdout).not.toContain(value);
  });

  it('rotates one secret, refreshes what derives from it, keeps the rest', async () => {
    const before = readEnv();
    const res = await runCli(['secrets', 'rotate', 'OIDC_OUTLINE_SECRET', '--dir', stack], {
      cwd: work,
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      'restart to apply: outline, tool-server (datamancy up recreates outline; docker restart tool-server)',
    );
    expect(res.stdout).toContain(`refreshed ${oidcDigestFile('outline')}, ${SECRET_DIGESTS_PATH}`);
    const after = readEnv();
    expect(after.OIDC_OUTLINE_SECRET).not.toBe(before.OIDC_OUTLINE_SECRET);
    expect({ ...after, OIDC_OUTLINE_SECRET: '' }).toEqual({ ...before, OIDC_OUTLINE_SECRET: '' });
    const digest = readFileSync(join(stack, oidcDigestFile('outline')), 'utf8');
    const verify = (secret: string) =>
      execFileSync(PYTHON, [
        '-c',
        'import sys; from passlib.hash import pbkdf2_sha512 as h; print(h.verify(sys.argv[1], sys.argv[2]))',
        secret,
        digest,
      ])
        .toString()
        .trim();
    expect(verify(after.OIDC_OUTLINE_SECRET ?? '')).toBe('True');
    expect(verify(before.OIDC_OUTLINE_SECRET ?? '')).toBe('False');
    env = after;

    const db = await runCli(['secrets', 'rotate', 'OUTLINE_DB_PASSWORD', '--dir', stack], {
      cwd: work,
    });
    expect(db.stdout).toContain('PostgreSQL keeps the old password of role outline');

    const unknown = await runCli(['secrets', 'rotate', 'NOPE', '--dir', stack], { cwd: work });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown secret "NOPE"');

    const key = readFileSync(join(stack, 'authelia', 'secrets', 'oidc-issuer.pem'), 'utf8');
    const rotated = await runCli(['secrets', 'rotate', 'oidc-issuer-key', '--dir', stack], {
      cwd: work,
    });
    expect(rotated.code).toBe(0);
    expect(readFileSync(join(stack, 'authelia', 'secrets', 'oidc-issuer.pem'), 'utf8')).not.toBe(
      key,
    );
  }, 60_000);

  it("rotates a service's token: its digest in the tokens file and the secret digests follow", async () => {
    const sha = (v: string | undefined) =>
      createHash('sha256')
        .update(v ?? '')
        .digest('hex');
    const tokensBefore = loadTokensFile(join(stack, TOKENS_FILE_PATH));
    const token = await runCli(['secrets', 'rotate', 'DATAMANCY_TOKEN_LITELLM', '--dir', stack], {
      cwd: work,
    });
    expect(token.stderr).toBe('');
    expect(token.stdout).toContain(`refreshed ${TOKENS_FILE_PATH}, ${SECRET_DIGESTS_PATH}`);
    expect(token.stdout).toMatch(
      /restart to apply: browser, litellm, model-router, probe, speech-gateway, tool-server \(datamancy up recreates litellm; docker restart browser model-router probe speech-gateway tool-server\)/,
    );
    const rotatedEnv = readEnv();
    expect(rotatedEnv.DATAMANCY_TOKEN_LITELLM).not.toBe(env.DATAMANCY_TOKEN_LITELLM);
    const tokensAfter = loadTokensFile(join(stack, TOKENS_FILE_PATH));
    expect(tokensAfter.find((t) => t.name === 'litellm')?.sha256).toBe(
      sha(rotatedEnv.DATAMANCY_TOKEN_LITELLM),
    );
    expect(tokensAfter.filter((t) => t.name !== 'litellm')).toEqual(
      tokensBefore.filter((t) => t.name !== 'litellm'),
    );
    const digests = (
      JSON.parse(readFileSync(join(stack, SECRET_DIGESTS_PATH), 'utf8')) as { sha256: string[] }
    ).sha256;
    expect(digests).toContain(sha(rotatedEnv.DATAMANCY_TOKEN_LITELLM));
    expect(digests).not.toContain(sha(env.DATAMANCY_TOKEN_LITELLM));
    env = rotatedEnv;
  }, 90_000);
});
