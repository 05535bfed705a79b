import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

export interface PostgresFixture {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth, loopback only). */
  url: string;
  port: number;
  /** The Unix socket directory (local connections are always trusted, as in the image). */
  socketDir: string;
  close(): Promise<void>;
}

export interface PostgresOptions {
  /**
   * TCP authentication: `trust` (default) or `scram-sha-256`, where every TCP login needs the
   * role's password (the superuser's is `superuserPassword`).
   */
  hostAuth?: 'trust' | 'scram-sha-256';
  superuserPassword?: string;
}

function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const path = join(base, v, 'bin', name);
    if (existsSync(path)) return path;
  }
  throw new Error(`PostgreSQL's ${name} is not installed: run scripts/setup-system.sh`);
}

/**
 * Starts a throwaway PostgreSQL server on a free loopback port (initdb into a temp dir, run
 * as the `postgres` user when we are root, since PostgreSQL refuses to run as root).
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'dm-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }) : undefined;
  const uid = owner === undefined ? undefined : Number(owner.stdout.trim());
  if (asRoot && (uid === undefined || !Number.isInteger(uid)))
    throw new Error('running as root needs the postgres user (apt-get install postgresql)');
  if (uid !== undefined) {
    chownSync(dir, uid, uid);
    chmodSync(dir, 0o700);
  }
  const as = (bin: string, args: string[]) =>
    uid === undefined ? run(bin, args) : run('runuser', ['-u', 'postgres', '--', bin, ...args]);
  const pwfile = join(dir, 'pwfile');
  if (options.hostAuth === 'scram-sha-256') {
    writeFileSync(pwfile, `${options.superuserPassword ?? 'postgres'}\n`, { mode: 0o600 });
    if (uid !== undefined) chownSync(pwfile, uid, uid);
  }
  await as(pgBin('initdb'), [
    '-D',
    data,
    '--auth-local=trust',
    `--auth-host=${options.hostAuth ?? 'trust'}`,
    ...(options.hostAuth === 'scram-sha-256' ? [`--pwfile=${pwfile}`] : []),
    '--username=postgres',
    '--encoding=UTF8',
    '--no-sync',
  ]);
  const port = await freePort();
  await as(pgBin('pg_ctl'), [
    '-D',
    data,
    '-w',
    '-t',
    '30',
    '-l',
    join(dir, 'server.log'),
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    socketDir: dir,
    async close() {
      await as(pgBin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
