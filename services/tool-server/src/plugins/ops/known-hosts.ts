import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * OpenSSH known_hosts, read for host-key pinning: plain and hashed (`|1|salt|hash`) host
 * patterns, comma lists, `*`/`?` wildcards, `!` negation, `[host]:port` for other ports, and
 * the `@revoked` marker. `@cert-authority` lines are ignored (no certificates here).
 */

export interface KnownHostEntry {
  marker: 'revoked' | 'cert-authority' | undefined;
  patterns: string;
  keyType: string;
  /** The public key blob (SSH wire format), as the server sends it. */
  key: Buffer;
}

export type HostKeyVerdict =
  | { ok: true; fingerprint: string }
  | {
      ok: false;
      reason: 'host_key_unknown' | 'host_key_changed' | 'host_key_revoked';
      fingerprint: string;
      keyType: string;
      /** Fingerprints of the keys known_hosts pins for this host. */
      known: string[];
    };

/** The type name inside a key blob (`ssh-ed25519`, ...), or undefined when malformed. */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint: `SHA256:` and unpadded base64 of the blob's SHA-256. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) continue;
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    }
    const [patterns, keyType, base64] = fields;
    if (patterns === undefined || keyType === undefined || base64 === undefined) continue;
    const key = Buffer.from(base64, 'base64');
    if (keyTypeOf(key) !== keyType) continue; // not a key line we understand
    entries.push({ marker, patterns, keyType, key });
  }
  return entries;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Does a host-pattern field (`a,b,!c`, or one hashed name) cover `name`? */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatches(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    if (glob === '' || !globToRegExp(glob).test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** The entries that speak of this host and port. */
export function entriesFor(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return entries.filter((e) => patternsMatch(e.patterns, name));
}

/** Compares the key a server presented with the entries pinned for it. */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  key: Buffer,
): HostKeyVerdict {
  const mine = entriesFor(entries, host, port);
  const fingerprint = fingerprintOf(key);
  const keyType = keyTypeOf(key) ?? 'unknown';
  const pinned = mine.filter((e) => e.marker === undefined);
  const known = pinned.map((e) => `${e.keyType} ${fingerprintOf(e.key)}`);
  if (mine.some((e) => e.marker === 'revoked' && e.key.equals(key))) {
    return { ok: false, reason: 'host_key_revoked', fingerprint, keyType, known };
  }
  if (pinned.some((e) => e.key.equals(key))) return { ok: true, fingerprint };
  const reason = pinned.length === 0 ? 'host_key_unknown' : 'host_key_changed';
  return { ok: false, reason, fingerprint, keyType, known };
}

const RSA_ALGORITHMS = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
/** Host-key types the SSH library speaks; pins of other types cannot be offered. */
const SUPPORTED_KEY_TYPES = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'ssh-dss',
]);

/**
 * Host-key algorithms to offer so that the server presents a key type we have pinned
 * (as OpenSSH does); undefined (library defaults) when nothing is pinned.
 */
export function hostKeyAlgorithmsFor(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
): string[] | undefined {
  const types = new Set(
    entriesFor(entries, host, port)
      .filter((e) => e.marker === undefined && SUPPORTED_KEY_TYPES.has(e.keyType))
      .map((e) => e.keyType),
  );
  if (types.size === 0) return undefined;
  return [...types].flatMap((t) => (t === 'ssh-rsa' ? RSA_ALGORITHMS : [t]));
}
