import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { AppError } from '../errors.ts';
import { bareHost, createBlockList, familyOf, inList, parseCidr, unmapIpv4 } from './ip.ts';

/**
 * One guard for every URL the control plane fetches on someone's behalf.
 * - only http/https;
 * - link-local, cloud metadata, "this network", multicast and broadcast are always refused,
 *   whatever the allowlist says, and checked again on the addresses DNS returns (rebinding);
 * - otherwise a host must be on the allowlist: a name (`grafana`, `*.example.org`) for names,
 *   an address or CIDR (`127.0.0.0/8`) for literal addresses, or `*` for any host.
 * Redirects are followed by the caller hop by hop, each hop checked again.
 */

const ALWAYS_DENIED_CIDRS = [
  '0.0.0.0/8',
  '169.254.0.0/16',
  '100.100.100.200/32',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '255.255.255.255/32',
  '::/128',
  'fe80::/10',
  'ff00::/8',
  'fd00:ec2::254/128',
];

const ALWAYS_DENIED_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.com',
  'metadata.platformequinix.com',
]);

export const DEFAULT_ALLOW_HOSTS = ['localhost', '127.0.0.0/8', '::1'];

/** Hostnames of the stack's services, reachable by URL-fetching tools and the browser without listing them. */
export const STACK_HOSTS = [
  'caddy',
  'authelia',
  'ldap',
  'openldap',
  'redis',
  'postgres',
  'litellm',
  'vllm',
  'vllm-router',
  'model-router',
  'embedding-service',
  'open-webui',
  'tool-server',
  'kfuncdb',
  'probe',
  'probe-orchestrator',
  'browser',
  'speech-gateway',
  'homepage',
  'grafana',
];

/** The default allowlist: loopback, the stack's service names, the domain and its subdomains, plus extras. */
export function stackAllowHosts(domain: string, extra: readonly string[] = []): string[] {
  return [...DEFAULT_ALLOW_HOSTS, ...STACK_HOSTS, domain, `*.${domain}`, ...extra];
}

export interface SsrfPolicy {
  /** Hostnames, `*.suffix` wildcards, addresses, CIDR ranges, or `*`. */
  allowHosts: readonly string[];
}

export type SsrfDenyReason = 'scheme' | 'denied-address' | 'not-allowlisted' | 'unresolvable';

export class SsrfError extends AppError {
  readonly reason: SsrfDenyReason;
  constructor(reason: SsrfDenyReason, message: string) {
    super('URL_REFUSED', message, { data: { reason } });
    this.reason = reason;
  }
}

export interface SsrfGuard {
  /** Throws `SsrfError` unless the URL may be fetched (before any DNS lookup). */
  checkUrl(url: URL): void;
  /** Throws unless `host` may be contacted (name or literal), before DNS. */
  checkHost(host: string): void;
  /** A `lookup` for `http.request`/`net.connect` that refuses addresses the policy forbids. */
  lookup: LookupFunction;
}

export function createSsrfGuard(policy: SsrfPolicy): SsrfGuard {
  const denied = createBlockList(ALWAYS_DENIED_CIDRS);
  const anyHost = policy.allowHosts.includes('*');
  const cidrs = policy.allowHosts.filter((h) => parseCidr(bareHost(h)) !== undefined).map(bareHost);
  const allowedAddresses = createBlockList(cidrs);
  const names = policy.allowHosts
    .filter((h) => h !== '*' && parseCidr(bareHost(h)) === undefined)
    .map((h) => h.toLowerCase().replace(/\.$/, ''));
  for (const name of names) {
    if (!/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) {
      throw new Error(`not a hostname, address or CIDR in the SSRF allowlist: ${name}`);
    }
  }

  const nameAllowed = (host: string): boolean =>
    anyHost ||
    names.some((n) =>
      n.startsWith('*.') ? host.endsWith(n.slice(1)) && host.length > n.length - 1 : host === n,
    );

  const checkAddress = (host: string, address: string, byName: boolean): void => {
    if (inList(denied, address)) {
      const what = host === address ? host : `${host} (${unmapIpv4(address)})`;
      throw new SsrfError(
        'denied-address',
        `refused: ${what} is a link-local, metadata or reserved address`,
      );
    }
    if (!byName && !anyHost && !inList(allowedAddresses, address)) {
      throw new SsrfError(
        'not-allowlisted',
        `refused: ${host} (${address}) is not on the allowed hosts list`,
      );
    }
  };

  const checkHost = (rawHost: string): void => {
    const host = bareHost(rawHost).toLowerCase().replace(/\.$/, '');
    if (ALWAYS_DENIED_NAMES.has(host)) {
      throw new SsrfError('denied-address', `refused: ${host} is a cloud metadata endpoint`);
    }
    if (familyOf(host) !== undefined) {
      checkAddress(host, host, false);
      return;
    }
    // Names are allowed by name only; their addresses are still checked after DNS.
    if (!nameAllowed(host)) {
      throw new SsrfError('not-allowlisted', `refused: ${host} is not on the allowed hosts list`);
    }
  };

  const lookup: LookupFunction = (hostname, options, callback) => {
    const host = bareHost(hostname).toLowerCase().replace(/\.$/, '');
    dnsLookup(
      host,
      { all: true, family: options.family ?? 0 },
      (err, addresses: LookupAddress[]) => {
        if (err) {
          callback(err, '', 4);
          return;
        }
        try {
          if (addresses.length === 0)
            throw new SsrfError('unresolvable', `refused: ${host} resolves to no address`);
          const byName = nameAllowed(host);
          for (const a of addresses) checkAddress(host, a.address, byName);
        } catch (guardErr) {
          callback(guardErr as Error, '', 4);
          return;
        }
        if (options.all === true) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        } else {
          const first = addresses[0] as LookupAddress;
          callback(null, first.address, first.family);
        }
      },
    );
  };

  return {
    checkUrl(url: URL) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new SsrfError(
          'scheme',
          `refused: only http and https URLs may be fetched, not ${url.protocol}`,
        );
      }
      checkHost(url.hostname);
    },
    checkHost,
    lookup,
  };
}
