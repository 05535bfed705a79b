import type { ValidationIssue } from '@datamancy/core';
import {
  NETWORK_IP_RANGES,
  NETWORK_SUBNETS,
  SOCKET_NETWORKS,
  type Catalog,
  type CatalogService,
  type NetworkName,
} from './schema.ts';

/**
 * The catalog's network policy, checked before anything is rendered: the engine's socket is
 * held only by the socket proxies, each alone on a socket network with its few callers; fixed
 * addresses lie in their network and outside its dynamic range; the SSO-header trust of a
 * service is the edge's own fixed address.
 */

/** The edge proxy: the one service that publishes ports and sends `Remote-*` headers. */
export const EDGE_SERVICE = 'caddy';

/** A volume that mounts an engine socket (Docker's or Podman's), wherever it is put. */
export function mountsEngineSocket(volume: string): boolean {
  return /(docker|podman)\.sock(:|$)/.test(volume);
}

function ipv4ToInt(address: string): number | undefined {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    return undefined;
  return parts.reduce((n, p) => n * 256 + p, 0);
}

/** First and last address of a CIDR block. */
function cidrBounds(cidr: string): [number, number] {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor((ipv4ToInt(base) ?? 0) / size) * size;
  return [start, start + size - 1];
}

function inCidr(address: number, cidr: string): boolean {
  const [first, last] = cidrBounds(cidr);
  return address >= first && address <= last;
}

/** The edge's fixed address on a network, when it has one there. */
export function edgeAddress(catalog: Catalog, network: NetworkName): string | undefined {
  return catalog.services.find((s) => s.name === EDGE_SERVICE)?.ipv4Address[network];
}

/**
 * The edge's fixed address on a network `s` shares with it: where `Remote-*` headers come
 * from, for `trustedProxyEnv`.
 */
export function trustedEdgeAddress(catalog: Catalog, s: CatalogService): string | undefined {
  for (const network of [...s.networks].sort()) {
    const address = edgeAddress(catalog, network);
    if (address !== undefined) return address;
  }
  return undefined;
}

export function checkNetworkPolicy(catalog: Catalog): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const holders = new Map<NetworkName, string>();
  catalog.services.forEach((s, i) => {
    if (!s.dockerSocket) return;
    const at = `services[${i}]`;
    if (!s.volumes.some(mountsEngineSocket))
      issues.push({ path: `${at}.volumes`, message: 'a socket holder mounts the engine socket' });
    const socketNets = s.networks.filter((n) => SOCKET_NETWORKS.has(n));
    if (s.networks.length !== 1 || socketNets.length !== 1)
      issues.push({
        path: `${at}.networks`,
        message: `a socket holder is on one socket network (${[...SOCKET_NETWORKS].join(' or ')}) and no other`,
      });
    for (const n of socketNets) {
      const other = holders.get(n);
      if (other !== undefined)
        issues.push({
          path: `${at}.networks`,
          message: `${other} already holds the socket on ${n}`,
        });
      holders.set(n, s.name);
    }
    if (s.hostname !== undefined || s.publish.length > 0)
      issues.push({ path: `${at}.hostname`, message: 'a socket holder is never published' });
  });
  const used = new Map<string, string>();
  catalog.services.forEach((s, i) => {
    const at = `services[${i}]`;
    if (!s.dockerSocket) {
      s.volumes.forEach((v, j) => {
        if (mountsEngineSocket(v))
          issues.push({
            path: `${at}.volumes[${j}]`,
            message: 'only a socket holder (dockerSocket: true) mounts the engine socket',
          });
      });
      for (const n of s.networks.filter((x) => SOCKET_NETWORKS.has(x))) {
        const holder = holders.get(n);
        if (holder === undefined)
          issues.push({ path: `${at}.networks`, message: `no socket holder serves ${n}` });
        else if (!s.dependsOn.includes(holder))
          issues.push({
            path: `${at}.dependsOn`,
            message: `${s.name} is on ${n} to call ${holder}: it depends on it`,
          });
      }
    }
    for (const [network, address] of Object.entries(s.ipv4Address) as [NetworkName, string][]) {
      const path = `${at}.ipv4Address.${network}`;
      const n = ipv4ToInt(address);
      const range = NETWORK_IP_RANGES[network];
      const [first, last] = cidrBounds(NETWORK_SUBNETS[network]);
      if (!s.networks.includes(network))
        issues.push({ path, message: `${s.name} is not on ${network}` });
      else if (n === undefined || !inCidr(n, NETWORK_SUBNETS[network]))
        issues.push({
          path,
          message: `${address} is not in ${network} (${NETWORK_SUBNETS[network]})`,
        });
      else if (n <= first + 1 || n === last)
        issues.push({
          path,
          message: `${address} is the network's own, gateway or broadcast address`,
        });
      else if (range === undefined)
        issues.push({
          path,
          message: `${network} has no dynamic range (ip_range) to keep fixed addresses out of`,
        });
      else if (inCidr(n, range))
        issues.push({
          path,
          message: `${address} is inside ${network}'s dynamic range ${range}: a container could take it first`,
        });
      const other = used.get(address);
      if (other !== undefined) issues.push({ path, message: `${address} is ${other}'s address` });
      used.set(address, s.name);
    }
    s.trustedProxyEnv.forEach((name, j) => {
      const path = `${at}.trustedProxyEnv[${j}]`;
      if (s.sso !== 'forward-auth')
        issues.push({ path, message: 'only a forward-auth service is sent SSO headers' });
      if (trustedEdgeAddress(catalog, s) === undefined)
        issues.push({
          path,
          message: `${EDGE_SERVICE} has no fixed address (ipv4Address) on a network ${s.name} is on`,
        });
      if (s.environment[name] !== undefined)
        issues.push({ path, message: `${name} is set by the renderer, not in environment` });
    });
  });
  return issues;
}
