import { z } from 'zod';
import type { EnvBinding } from '@datamancy/core';
import { ExecAllowlistSchema } from '@datamancy/container-engine';

/** The policies a proxy can enforce; see policy.ts and design.md. */
export const POLICIES = ['control-plane', 'full'] as const;
export type PolicyName = (typeof POLICIES)[number];

/**
 * `DOCKER_PROXY_EXEC_ALLOW` carries the allowlist as JSON text; a file gives it as a mapping.
 * Text that is not JSON is an issue naming the parse error (the loader adds the variable).
 */
const ExecAllowlistInput = z.preprocess((value, ctx) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch (err) {
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: `expected a JSON object of container name → list of argv (${(err as Error).message})`,
    });
    return z.NEVER;
  }
}, ExecAllowlistSchema);

export const DockerProxyConfigSchema = z.object({
  /** 2375, the Docker API's customary plain-TCP port. */
  port: z.number().int().min(0).max(65535).default(2375),
  /** Overrides the shared bind address (127.0.0.1; 0.0.0.0 in the control-plane image). */
  host: z.string().min(1).optional(),
  /** The engine's unix socket the proxy forwards to. */
  socket: z.string().min(1).default('/var/run/docker.sock'),
  policy: z.enum(POLICIES).default('control-plane'),
  /**
   * What `POST /containers/{id}/exec` may run under the control-plane policy: the tool
   * server's `execAllowlist` shape and matching (container or compose service name → argv;
   * a last `"*"` allows further arguments). Empty: no exec at all.
   */
  execAllowlist: ExecAllowlistInput.default({}),
  /** The largest request body read for inspection (update and exec bodies); beyond: 413. */
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024),
});
export type DockerProxyConfig = z.infer<typeof DockerProxyConfigSchema>;

export const DOCKER_PROXY_ENV_BINDINGS: readonly EnvBinding[] = [
  { env: 'DOCKER_PROXY_PORT', path: 'dockerProxy.port', kind: 'int' },
  { env: 'DOCKER_PROXY_HOST', path: 'dockerProxy.host' },
  { env: 'DOCKER_PROXY_SOCKET', path: 'dockerProxy.socket' },
  { env: 'DOCKER_PROXY_POLICY', path: 'dockerProxy.policy' },
  { env: 'DOCKER_PROXY_EXEC_ALLOW', path: 'dockerProxy.execAllowlist' },
  { env: 'DOCKER_PROXY_BODY_LIMIT_BYTES', path: 'dockerProxy.bodyLimitBytes', kind: 'int' },
];
