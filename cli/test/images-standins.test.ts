import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedDataRoot, startDocker, waitFor, type DockerFixture } from '@datamancy/testkit';
import { runCli, type CliResult } from './helpers.ts';

/**
 * `datamancy images build` on a real Docker Engine: the Debian base from mmdebstrap and the
 * stand-ins for Caddy, OpenLDAP, Redis and PostgreSQL, each then run as the catalog runs the
 * upstream image (its environment, mounts and healthcheck) and asked to do its job. The
 * engine's data root is kept between runs (outside the checkout), so a run after the first
 * reuses the images: the second build here must reuse every one.
 */

const CATALOG = fileURLToPath(new URL('../../stack/catalog.yaml', import.meta.url));
const STANDINS = 'caddy,openldap,redis,postgres';

let docker: DockerFixture;
let work: string;
let first: CliResult;
const NET = 'dm-standins';

const build = (...extra: string[]) =>
  runCli(['images', 'build', '--dir', work, '--catalog', CATALOG, '--only', STANDINS, ...extra], {
    env: { DOCKER_HOST: docker.dockerHost },
    timeoutMs: 15 * 60_000,
  });

/** Runs a command in a container; its stdout (throws on a non-zero exit). */
async function exec(container: string, ...argv: string[]): Promise<string> {
  return docker.cli(['exec', container, ...argv]);
}

/** The same, for a command expected to fail: what it printed, never the command line. */
async function output(run: Promise<string>): Promise<string> {
  return run.catch(
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
}

function healthy(container: string): Promise<true> {
  return waitFor(
    `${container} healthy`,
    async () =>
      (await docker.cli(['inspect', '--format', '{{.State.Health.Status}}', container])) ===
      'healthy'
        ? (true as const)
        : undefined,
    60_000,
    500,
  );
}

beforeAll(async () => {
  docker = await startDocker({ dataRoot: cachedDataRoot() });
  work = mkdtempSync(join(tmpdir(), 'dm-images-'));
  first = await build();
  await docker.cli(['network', 'create', NET]);
}, 16 * 60_000);

afterAll(async () => {
  await docker?.close();
});

describe('datamancy images build: stand-ins', () => {
  it('builds (or finds current) the base and each stand-in, with progress on stderr; a re-run reuses all', async () => {
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(
      /^datamancy images build: 5 images for profile local on Docker Engine/m,
    );
    for (const name of ['bookworm', 'caddy', 'openldap', 'redis', 'postgres'])
      expect(first.stderr).toMatch(
        new RegExp(`^\\[\\d/5\\] ${name} \\(.*\\): (built in|reused)`, 'm'),
      );
    const again = await build('--json');
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as {
      images: { name: string; outcome: string }[];
      standIns: Record<string, string>;
    };
    expect(report.images.map((i) => [i.name, i.outcome])).toEqual([
      ['bookworm', 'reused'],
      ['caddy', 'reused'],
      ['openldap', 'reused'],
      ['redis', 'reused'],
      ['postgres', 'reused'],
    ]);
    expect(Object.values(report.standIns).sort()).toEqual(
      ['caddy', 'openldap', 'postgres', 'redis'].map(
        (n) => `localhost/datamancy/${n}-standin:local`,
      ),
    );
  });

  it('refuses an unreachable engine and an unknown image by name, exit non-zero', async () => {
    const none = await runCli(
      ['images', 'build', '--dir', work, '--catalog', CATALOG, '--only', 'redis'],
      { env: { DOCKER_HOST: `unix://${join(work, 'nothing.sock')}` } },
    );
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('nothing.sock');
    const unknown = await build('--only', 'nginx');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--only: no image named nginx');
  });

  it('redis: runs as 999:999 in /data, answers the catalog healthcheck, saves there', async () => {
    await docker.cli([
      'run',
      '-d',
      '--name',
      'sr-redis',
      '--network',
      NET,
      '--user',
      '999:999',
      '--health-cmd',
      'redis-cli ping',
      '--health-interval',
      '1s',
      'localhost/datamancy/redis-standin:local',
    ]);
    await healthy('sr-redis');
    expect(await exec('sr-redis', 'redis-cli', 'set', 'k', 'v')).toBe('OK');
    expect(await exec('sr-redis', 'redis-cli', 'save')).toBe('OK');
    expect(await exec('sr-redis', 'ls', '/data')).toContain('dump.rdb');
    // protected mode is off, as upstream builds it: a client from another container is served
    await docker
      .cli([
        'run',
        '--rm',
        '--network',
        NET,
        'localhost/datamancy/redis-standin:local',
        'redis-cli',
        '-h',
        'sr-redis',
        'get',
        'k',
      ])
      .then((out) => expect(out).toBe('v'));
  });

  it('postgres: initialises once from POSTGRES_PASSWORD and /docker-entrypoint-initdb.d, password auth over TCP, pg_isready healthy', async () => {
    const init = join(work, 'initdb');
    mkdirSync(init, { recursive: true });
    writeFileSync(
      join(init, '10-app.sh'),
      'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "CREATE ROLE app LOGIN PASSWORD \'$APP_PASSWORD\'" -c "CREATE DATABASE app OWNER app"\n',
    );
    writeFileSync(join(init, '20-table.sql'), 'CREATE TABLE marker (id int);\n');
    await docker.cli([
      'run',
      '-d',
      '--name',
      'sr-postgres',
      '--network',
      NET,
      '-e',
      'POSTGRES_PASSWORD=s3cret-pg',
      '-e',
      'APP_PASSWORD=app-pw',
      '-v',
      `${init}:/docker-entrypoint-initdb.d:ro`,
      '--health-cmd',
      'pg_isready -U postgres',
      '--health-interval',
      '1s',
      'localhost/datamancy/postgres-standin:local',
    ]);
    await healthy('sr-postgres');
    const client = (user: string, password: string, db: string, sql: string) =>
      docker.cli([
        'run',
        '--rm',
        '--network',
        NET,
        '-e',
        `PGPASSWORD=${password}`,
        'localhost/datamancy/postgres-standin:local',
        'psql',
        '-h',
        'sr-postgres',
        '-U',
        user,
        '-d',
        db,
        '-tAc',
        sql,
      ]);
    expect(await client('app', 'app-pw', 'app', 'SELECT current_user')).toBe('app');
    expect(
      await client(
        'postgres',
        's3cret-pg',
        'postgres',
        "SELECT to_regclass('public.marker') IS NOT NULL",
      ),
    ).toBe('t');
    expect(await output(client('postgres', 'wrong', 'postgres', 'SELECT 1'))).toMatch(
      /password authentication failed for user "postgres"/,
    );
    expect(await exec('sr-postgres', 'id', '-u', 'postgres')).toBe('999');
    // a restart keeps the data and does not run the init scripts again
    await docker.cli(['restart', 'sr-postgres']);
    await healthy('sr-postgres');
    const logs = await docker.cli(['logs', 'sr-postgres']).catch(() => '');
    expect(
      logs.match(/postgres: running \/docker-entrypoint-initdb.d\/10-app.sh/g)?.length ?? 0,
    ).toBeLessThanOrEqual(1);
    expect(await client('app', 'app-pw', 'app', 'SELECT 1')).toBe('1');
  });

  it('openldap: loads the custom LDIFs into LDAP_ROOT on port 1389 as user 1001, binds the admin, hides entries from anonymous', async () => {
    const ldifs = join(work, 'ldifs');
    mkdirSync(ldifs, { recursive: true });
    writeFileSync(
      join(ldifs, 'tree.ldif'),
      [
        'dn: dc=datamancy,dc=local',
        'objectClass: dcObject',
        'objectClass: organization',
        'dc: datamancy',
        'o: datamancy',
        '',
        'dn: ou=users,dc=datamancy,dc=local',
        'objectClass: organizationalUnit',
        'ou: users',
        '',
        'dn: uid=ann,ou=users,dc=datamancy,dc=local',
        'objectClass: inetOrgPerson',
        'uid: ann',
        'cn: Ann',
        'sn: Example',
        'userPassword: ann-pw',
        '',
      ].join('\n'),
    );
    await docker.cli([
      'run',
      '-d',
      '--name',
      'sr-ldap',
      '--network',
      NET,
      '--user',
      '1001',
      '-e',
      'LDAP_ADMIN_PASSWORD=ldap-admin',
      '-e',
      'LDAP_ROOT=dc=datamancy,dc=local',
      '-e',
      'LDAP_CUSTOM_LDIF_DIR=/ldifs',
      '-e',
      'LDAP_SKIP_DEFAULT_TREE=yes',
      '-v',
      `${ldifs}:/ldifs:ro`,
      '--health-cmd',
      'ldapsearch -x -H ldap://localhost:1389 -b "" -s base',
      '--health-interval',
      '1s',
      'localhost/datamancy/openldap-standin:local',
    ]);
    await healthy('sr-ldap');
    const search = (...args: string[]) =>
      exec('sr-ldap', 'ldapsearch', '-x', '-LLL', '-H', 'ldap://localhost:1389', ...args);
    const asAdmin = await search(
      '-D',
      'cn=admin,dc=datamancy,dc=local',
      '-w',
      'ldap-admin',
      '-b',
      'dc=datamancy,dc=local',
      'uid=ann',
      'cn',
    );
    expect(asAdmin).toContain('dn: uid=ann,ou=users,dc=datamancy,dc=local');
    const anonymous = await output(search('-b', 'dc=datamancy,dc=local', 'uid=ann'));
    expect(anonymous).not.toContain('uid=ann');
    const asAnn = await search(
      '-D',
      'uid=ann,ou=users,dc=datamancy,dc=local',
      '-w',
      'ann-pw',
      '-b',
      'dc=datamancy,dc=local',
      'uid=ann',
      'userPassword',
      'cn',
    );
    expect(asAnn).toContain('cn: Ann');
    expect(asAnn).toContain('userPassword'); // her own, readable by herself only
    const wrong = await output(
      search('-D', 'cn=admin,dc=datamancy,dc=local', '-w', 'nope', '-b', '', '-s', 'base'),
    );
    expect(wrong).toMatch(/Invalid credentials \(49\)/);
    expect(await exec('sr-ldap', 'id', '-u')).toBe('1001');
  });

  it('caddy: serves the mounted Caddyfile, its admin API answers the catalog healthcheck', async () => {
    const caddyfile = join(work, 'Caddyfile');
    writeFileSync(caddyfile, ':8080 {\n\trespond "stand-in ok"\n}\n');
    await docker.cli([
      'run',
      '-d',
      '--name',
      'sr-caddy',
      '--network',
      NET,
      '-v',
      `${caddyfile}:/etc/caddy/Caddyfile:ro`,
      '--health-cmd',
      'wget -q --spider http://localhost:2019/config/',
      '--health-interval',
      '1s',
      'localhost/datamancy/caddy-standin:local',
    ]);
    await healthy('sr-caddy');
    expect(await exec('sr-caddy', 'wget', '-q', '-O', '-', 'http://localhost:8080/')).toBe(
      'stand-in ok',
    );
  });
});
