import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Chromium does not read the CA bundle Node trusts (`NODE_EXTRA_CA_CERTS`): on Linux it
 * trusts the system roots and the NSS database under `$HOME/.pki/nssdb`. For pages on the
 * stack's own domain, signed by the edge's internal CA, a fresh database with that CA as a
 * trusted issuer is made under `dir` (NSS's `certutil`, Debian `libnss3-tools`), and Chromium
 * is started with `HOME=dir`. Only that CA is added; nothing else is trusted less or more.
 */
export async function prepareTrustHome(
  dir: string,
  caFile: string,
): Promise<{ home: string } | { error: string }> {
  const home = join(dir, 'chromium-home');
  const db = join(home, '.pki', 'nssdb');
  try {
    await rm(db, { recursive: true, force: true });
    await mkdir(db, { recursive: true, mode: 0o700 });
    await run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
    await run('certutil', [
      '-A',
      '-d',
      `sql:${db}`,
      '-t',
      'C,,',
      '-n',
      'datamancy-edge-ca',
      '-i',
      caFile,
    ]);
    return { home };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    return {
      error:
        e.code === 'ENOENT'
          ? 'certutil is not installed (Debian: apt-get install libnss3-tools)'
          : `certutil failed: ${(e.stderr ?? e.message).trim()}`,
    };
  }
}
