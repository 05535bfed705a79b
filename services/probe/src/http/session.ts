import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { dirname } from 'node:path';
import { getCookie } from 'hono/cookie';
import type { Identity, Scope, ServiceContext } from '@datamancy/core';

/**
 * How people reach the dashboard: a session cookie after logging in with a token, or SSO
 * headers (`Remote-User`, `Remote-Groups`) set by Authelia behind Caddy, believed only when
 * the connection comes from a configured proxy address.
 */

export const SESSION_COOKIE = 'dm_probe_session';

export interface DashboardAuthOptions {
  /** HMAC key of session cookies (32+ random bytes). */
  sessionKey: Buffer;
  sessionHours: number;
  trustedProxies: readonly string[];
  adminGroups: readonly string[];
}

/** Reads the session key from `path`, creating it (mode 600) on first use. */
export function loadSessionKey(path: string): Buffer {
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
    if (key.length >= 32) return key;
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}

interface SessionPayload {
  /** identity name */
  n: string;
  /** scopes */
  s: Scope[];
  /** expiry, epoch seconds */
  e: number;
}

function sign(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

export function issueSession(
  key: Buffer,
  identity: Identity,
  hours: number,
  now = Date.now(),
): string {
  const payload: SessionPayload = {
    n: identity.name,
    s: [...identity.scopes],
    e: Math.floor(now / 1000 + hours * 3600),
  };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${sign(key, body)}`;
}

export function verifySession(key: Buffer, value: string, now = Date.now()): Identity | undefined {
  const [body, mac] = value.split('.');
  if (body === undefined || mac === undefined) return undefined;
  const expected = Buffer.from(sign(key, body));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SessionPayload;
    if (typeof payload.e !== 'number' || payload.e * 1000 <= now) return undefined;
    return { name: payload.n, scopes: new Set(payload.s), via: 'session', kind: 'person' };
  } catch {
    return undefined;
  }
}

function proxyList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0)
      throw new Error(`not an address or CIDR in dashboard.trustedProxies: ${entry}`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address ?? '', type);
    else list.addSubnet(address ?? '', Number(prefix), type);
  }
  return list;
}

function peerAddress(c: ServiceContext): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const address = incoming?.socket.remoteAddress;
  return address?.startsWith('::ffff:') === true ? address.slice(7) : address;
}

export function createDashboardAuth(options: DashboardAuthOptions) {
  const proxies = proxyList(options.trustedProxies);
  const trusted = (address: string | undefined): boolean =>
    address !== undefined &&
    options.trustedProxies.length > 0 &&
    proxies.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

  /** Session cookie first, then SSO headers from a trusted proxy. */
  const authenticate = (c: ServiceContext): Identity | undefined => {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie !== undefined) {
      const identity = verifySession(options.sessionKey, cookie);
      if (identity !== undefined) return identity;
    }
    const user = c.req.header('remote-user');
    if (user === undefined || user === '' || !trusted(peerAddress(c))) return undefined;
    if (!/^[\w.@+-]{1,128}$/.test(user)) return undefined;
    const groups = (c.req.header('remote-groups') ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const admin = groups.some((g) => options.adminGroups.includes(g));
    return { name: `sso:${user}`, scopes: new Set<Scope>(admin ? ['admin'] : []), via: 'sso', kind: 'person' };
  };

  return {
    authenticate,
    issue: (identity: Identity) => issueSession(options.sessionKey, identity, options.sessionHours),
  };
}
