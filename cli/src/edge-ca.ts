import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EDGE_CA_CERT_PATH, EDGE_CA_KEY_PATH } from '@datamancy/catalog';
import { writePrivateFile, type StackDir } from './stack-dir.ts';

/**
 * The edge's internal CA, made by `init` rather than by Caddy: Caddy writes its own CA as
 * root with mode 600 inside its data, where a service that must trust the edge could only
 * read it by also reading the CA's private key. Here the root certificate (public, mode 644)
 * and its key (mode 600) live apart: every service that trusts the edge mounts the
 * certificate's directory; only Caddy mounts the key's, and signs its intermediate with it.
 */

const LIFETIME_DAYS = 3650;
/** Renewed by init when it would expire within this. */
const RENEW_BEFORE_MS = 90 * 86_400_000;

export type EdgeCaOutcome = 'kept' | 'created' | 'replaced';

/** True when the pair is a CA certificate and its key, valid for a while yet. */
export function edgeCaValid(certPem: string, keyPem: string, now = Date.now()): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return (
      cert.ca &&
      cert.checkPrivateKey(createPrivateKey(keyPem)) &&
      Date.parse(cert.validTo) - now > RENEW_BEFORE_MS
    );
  } catch {
    return false;
  }
}

/** True when the catalog's edge (caddy) mounts the CA's directories. */
export function wantsEdgeCa(stack: StackDir): boolean {
  return stack.catalog.services.some((s) =>
    s.volumes.some((v) => v.startsWith(`./${dirname(EDGE_CA_KEY_PATH)}:`)),
  );
}

export function ensureEdgeCa(stack: StackDir, domain: string, replace = false): EdgeCaOutcome {
  const certPath = join(stack.dir, EDGE_CA_CERT_PATH);
  const keyPath = join(stack.dir, EDGE_CA_KEY_PATH);
  const exists = existsSync(certPath) && existsSync(keyPath);
  if (
    exists &&
    !replace &&
    edgeCaValid(readFileSync(certPath, 'utf8'), readFileSync(keyPath, 'utf8'))
  )
    return 'kept';
  for (const p of [certPath, keyPath]) if (existsSync(p)) renameSync(p, `${p}.old`);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writePrivateFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  mkdirSync(dirname(certPath), { recursive: true });
  chmodSync(dirname(certPath), 0o755);
  const tmp = `${certPath}.tmp-${String(process.pid)}`;
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-sha256',
        '-key',
        keyPath,
        '-out',
        tmp,
        '-days',
        String(LIFETIME_DAYS),
        '-subj',
        `/O=Datamancy/CN=Datamancy edge CA for ${domain}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? 'openssl is not installed (Debian: apt-get install openssl)'
        : `openssl failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`,
    );
  }
  chmodSync(tmp, 0o644);
  renameSync(tmp, certPath);
  return exists ? 'replaced' : 'created';
}
