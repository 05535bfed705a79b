import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

export interface SlapdFixture {
  /** `ldap://127.0.0.1:PORT` */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface SlapdOptions {
  /** The suffix of the one MDB database, e.g. `dc=datamancy,dc=local`. */
  suffix: string;
  /** LDIF files loaded offline with slapadd before the server starts. */
  ldifFiles?: string[];
  /** The root DN (its password is its entry's userPassword, from the LDIF). */
  rootDn?: string;
}

const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'];

/**
 * A throwaway OpenLDAP server (Debian's slapd) on a free loopback port: a slapd.conf with the
 * standard schemas and one MDB database, LDIF loaded offline with slapadd, run in the
 * foreground as the current user, stopped with SIGTERM.
 */
export async function startSlapd(options: SlapdOptions): Promise<SlapdFixture> {
  if (!existsSync('/usr/sbin/slapd'))
    throw new Error('slapd is not installed: run scripts/setup-system.sh');
  const dir = mkdtempSync(join(tmpdir(), 'dm-slapd-'));
  const db = join(dir, 'db');
  mkdirSync(db);
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...SCHEMAS.map((s) => `include /etc/ldap/schema/${s}.schema`),
      `pidfile ${join(dir, 'slapd.pid')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'database mdb',
      `suffix "${options.suffix}"`,
      `rootdn "${options.rootDn ?? `cn=admin,${options.suffix}`}"`,
      `directory ${db}`,
      'maxsize 104857600',
      'access to attrs=userPassword by anonymous auth by self write by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  for (const ldif of options.ldifFiles ?? []) {
    await run('/usr/sbin/slapadd', ['-q', '-f', conf, '-l', ldif]);
  }
  const port = await freePort();
  const url = `ldap://127.0.0.1:${String(port)}`;
  let stderr = '';
  const child: ChildProcess = spawn('/usr/sbin/slapd', ['-d', '0', '-f', conf, '-h', url], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const state = await waitFor(
      `slapd on ${url}`,
      async () => {
        if (child.exitCode !== null) return 'exited';
        await run('ldapsearch', [
          '-x',
          '-H',
          url,
          '-b',
          '',
          '-s',
          'base',
          '-LLL',
          'namingContexts',
        ]);
        return 'up';
      },
      10_000,
    );
    if (state === 'exited') throw new Error(`slapd exited: ${stderr.slice(-500)}`);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    async close() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
