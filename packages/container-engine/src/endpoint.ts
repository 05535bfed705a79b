import { existsSync } from 'node:fs';

/** Where the engine's API listens: a unix socket or a TCP address. */
export type EngineEndpoint =
  | { kind: 'socket'; socketPath: string }
  | { kind: 'tcp'; protocol: 'http' | 'https'; host: string; port: number };

export const DEFAULT_SOCKETS = ['/var/run/docker.sock', '/run/podman/podman.sock'];

/**
 * `DOCKER_HOST` (`unix:///path`, `tcp://host:port`) when given; otherwise the first usual
 * socket that exists (Docker's, rootful Podman's, then the user's Podman socket).
 */
export function resolveEndpoint(
  dockerHost: string | undefined,
  runtimeDir?: string,
): EngineEndpoint {
  if (dockerHost !== undefined && dockerHost !== '') {
    if (dockerHost.startsWith('unix://'))
      return { kind: 'socket', socketPath: dockerHost.slice('unix://'.length) };
    if (dockerHost.startsWith('/')) return { kind: 'socket', socketPath: dockerHost };
    const match = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(dockerHost);
    if (match?.[1] !== undefined && match[2] !== undefined && match[3] !== undefined) {
      return {
        kind: 'tcp',
        protocol: match[1] === 'https' ? 'https' : 'http',
        host: match[2],
        port: Number(match[3]),
      };
    }
    throw new Error(`DOCKER_HOST must be unix:///path or tcp://host:port, not "${dockerHost}"`);
  }
  const candidates = [...DEFAULT_SOCKETS];
  if (runtimeDir !== undefined)
    candidates.push(`${runtimeDir}/podman/podman.sock`, `${runtimeDir}/docker.sock`);
  const found = candidates.find((p) => existsSync(p));
  return { kind: 'socket', socketPath: found ?? (DEFAULT_SOCKETS[0] as string) };
}

export function describeEndpoint(endpoint: EngineEndpoint): string {
  return endpoint.kind === 'socket'
    ? `unix://${endpoint.socketPath}`
    : `${endpoint.protocol}://${endpoint.host}:${endpoint.port}`;
}
