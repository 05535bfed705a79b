import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import {
  hashToken,
  type Identity,
  type Scope,
  type ServiceContext,
  type TokenRegistry,
} from '@datamancy/core';
import type { SessionStore } from '../store/sessions.ts';

/**
 * How people reach the dashboard: a server-side session after logging in with a token, or SSO
 * headers (`Remote-User`, `Remote-Groups`) set by Authelia behind Caddy, believed only when the
 * connection comes from one of the configured proxy addresses.
 *
 * A session holds the token's name and digest, not its scopes: every request asks the token
 * registry again, so a token removed from the config or rotated ends its sessions, and a change
 * of scopes applies at once.
 */

export const SESSION_COOKIE = 'dm_probe_session';

export interface DashboardAuthOptions {
  sessions: SessionStore;
  tokens: TokenRegistry;
  sessionHours: number;
  /** Exact proxy addresses (config validation refuses ranges). */
  trustedProxies: readonly string[];
  adminGroups: readonly string[];
}

export interface DashboardAuth {
  /** Session cookie first, then SSO headers from a trusted proxy. */
  authenticate: (c: ServiceContext) => Promise<Identity | undefined>;
  /** Makes a session of a token and sets its cookie. */
  login: (c: ServiceContext, token: string, identity: Identity) => Promise<void>;
  /** Ends the request's session (if any) and clears its cookie. */
  logout: (c: ServiceContext) => Promise<void>;
  /** Whether the browser reached us over HTTPS (directly, or by a trusted proxy's word). */
  overHttps: (c: ServiceContext) => boolean;
}

function proxyList(addresses: readonly string[]): BlockList {
  const list = new BlockList();
  for (const address of addresses) {
    const family = isIP(address);
    if (family === 0) throw new Error(`not an address in dashboard.trustedProxies: ${address}`);
    list.addAddress(address, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** The TCP peer of the request (IPv4-mapped IPv6 addresses as plain IPv4). */
export function peerAddress(c: ServiceContext): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const address = incoming?.socket.remoteAddress;
  return address?.startsWith('::ffff:') === true ? address.slice(7) : address;
}

export function createDashboardAuth(options: DashboardAuthOptions): DashboardAuth {
  const { sessions, tokens } = options;
  const proxies = proxyList(options.trustedProxies);
  const fromProxy = (c: ServiceContext): boolean => {
    const address = peerAddress(c);
    return (
      address !== undefined &&
      options.trustedProxies.length > 0 &&
      isIP(address) !== 0 &&
      proxies.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
    );
  };
  const ttlMs = Math.round(options.sessionHours * 3_600_000);

  const fromSession = async (c: ServiceContext): Promise<Identity | undefined> => {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie === undefined) return undefined;
    const session = await sessions.find(cookie);
    if (session === undefined) return undefined;
    const current = tokens.lookup(session.tokenName, session.tokenDigest);
    if (current === undefined) {
      // The token was removed or rotated: the session ends with it.
      await sessions.delete(cookie);
      c.get('log').info({ caller: session.tokenName }, 'session of a revoked token ended');
      return undefined;
    }
    return { ...current, via: 'session' };
  };

  const fromSso = (c: ServiceContext): Identity | undefined => {
    const user = c.req.header('remote-user');
    if (user === undefined || user === '' || !fromProxy(c)) return undefined;
    if (!/^[\w.@+-]{1,128}$/.test(user)) return undefined;
    const groups = (c.req.header('remote-groups') ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const admin = groups.some((g) => options.adminGroups.includes(g));
    return {
      name: `sso:${user}`,
      scopes: new Set<Scope>(admin ? ['admin'] : ['probe.read']),
      via: 'sso',
      kind: 'person',
    };
  };

  const overHttps = (c: ServiceContext): boolean =>
    new URL(c.req.url).protocol === 'https:' ||
    (fromProxy(c) && c.req.header('x-forwarded-proto')?.trim().toLowerCase() === 'https');

  return {
    authenticate: async (c) => (await fromSession(c)) ?? fromSso(c),
    overHttps,
    login: async (c, token, identity) => {
      const now = Date.now();
      await sessions.prune((name, digest) => tokens.lookup(name, digest) !== undefined, now);
      const id = await sessions.create({
        tokenName: identity.name,
        tokenDigest: hashToken(token),
        ttlMs,
        now,
      });
      setCookie(c, SESSION_COOKIE, id, {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        secure: overHttps(c),
        maxAge: Math.round(ttlMs / 1000),
      });
    },
    logout: async (c) => {
      const cookie = getCookie(c, SESSION_COOKIE);
      if (cookie !== undefined) await sessions.delete(cookie);
      deleteCookie(c, SESSION_COOKIE, {
        path: '/',
        httpOnly: true,
        sameSite: 'Strict',
        secure: overHttps(c),
      });
    },
  };
}
