import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMON_ENV_BINDINGS, ConfigError, loadConfig } from '@datamancy/core';
import {
  DOCKER_PROXY_ENV_BINDINGS,
  DockerProxyConfigSchema,
  DockerProxyStandaloneSchema,
} from '../src/index.ts';

const load = (env: Record<string, string>, file?: string) =>
  loadConfig({
    schema: DockerProxyStandaloneSchema,
    env,
    file,
    bindings: [...COMMON_ENV_BINDINGS, ...DOCKER_PROXY_ENV_BINDINGS],
  });

describe('docker-proxy config', () => {
  it('defaults to the control-plane policy on 2375 in front of /var/run/docker.sock, with no exec', () => {
    expect(DockerProxyConfigSchema.parse({})).toEqual({
      port: 2375,
      socket: '/var/run/docker.sock',
      policy: 'control-plane',
      execAllowlist: {},
      bodyLimitBytes: 65536,
    });
    // the bind address is the shared one (127.0.0.1) unless the section names its own
    expect(load({}).host).toBe('127.0.0.1');
    expect(load({}).dockerProxy.host).toBeUndefined();
  });

  it('reads every setting from its environment variable, the allowlist as JSON', () => {
    const config = load({
      DOCKER_PROXY_PORT: '12375',
      DOCKER_PROXY_HOST: '0.0.0.0',
      DOCKER_PROXY_SOCKET: '/run/podman/podman.sock',
      DOCKER_PROXY_POLICY: 'full',
      DOCKER_PROXY_EXEC_ALLOW: '{"postgres":[["pg_isready","*"]],"caddy":[["caddy","version"]]}',
      DOCKER_PROXY_BODY_LIMIT_BYTES: '4096',
    });
    expect(config.dockerProxy).toEqual({
      port: 12375,
      host: '0.0.0.0',
      socket: '/run/podman/podman.sock',
      policy: 'full',
      execAllowlist: { postgres: [['pg_isready', '*']], caddy: [['caddy', 'version']] },
      bodyLimitBytes: 4096,
    });
  });

  it('names the variable and the JSON error when the allowlist is not JSON', () => {
    const err = (() => {
      try {
        load({ DOCKER_PROXY_EXEC_ALLOW: "{postgres: ['pg_isready']}" });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).toContain('dockerProxy.execAllowlist');
    expect(message).toContain('expected a JSON object');
    expect(message).toContain('(set by DOCKER_PROXY_EXEC_ALLOW)');
  });

  it('rejects an allowlist of the wrong shape, an unknown policy and out-of-range values', () => {
    const err = (() => {
      try {
        load({
          DOCKER_PROXY_EXEC_ALLOW: '{"postgres":["pg_isready"]}',
          DOCKER_PROXY_POLICY: 'everything',
          DOCKER_PROXY_PORT: '70000',
          DOCKER_PROXY_BODY_LIMIT_BYTES: '10',
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    const paths = err.issues.map((i) => i.path).join(' ');
    expect(paths).toContain('dockerProxy.execAllowlist');
    expect(paths).toContain('dockerProxy.policy');
    expect(paths).toContain('dockerProxy.port');
    expect(paths).toContain('dockerProxy.bodyLimitBytes');
  });

  it('parses the shipped example', () => {
    const example = fileURLToPath(new URL('../docker-proxy.example.yaml', import.meta.url));
    const config = load({}, example);
    expect(config.dockerProxy.policy).toBe('control-plane');
    expect(config.dockerProxy.execAllowlist.postgres).toEqual([['pg_isready', '*']]);
  });
});
