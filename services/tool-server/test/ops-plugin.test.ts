import { describe, expect, it } from 'vitest';
import { createSilentLogger, READ_CAPABILITIES } from '@datamancy/core';
import { CommandSchema, commandLine } from '../src/plugins/ops/command.ts';
import { opsPlugin, OpsPluginConfigSchema } from '../src/plugins/ops/index.ts';
import { resolveTarget } from '../src/plugins/ops/ssh-exec.ts';
import { loadPlugins, type RegistryEntry } from '../src/runtime/loader.ts';
import { ADMIN, createTestToolServer, postJson } from './helpers.ts';

const TARGET = { host: '127.0.0.1', privateKeyPath: '/k', knownHostsPath: '/kh' };

function load(config: unknown, allow = [...READ_CAPABILITIES, 'host.network.ssh' as const]) {
  return loadPlugins([{ plugin: opsPlugin as RegistryEntry['plugin'], config }], {
    allowCaps: new Set(allow),
    hostVersion: '0.1.0',
    logger: createSilentLogger(),
  });
}

describe('ops plugin declaration and config', () => {
  it('is skipped, with the reason, when no target is configured', () => {
    expect(load(undefined).plugins[0]).toMatchObject({
      loaded: false,
      reason: 'no SSH target configured (set toolServer.plugins.ops.targets)',
    });
  });

  it('is skipped unless host.network.ssh is allowed, and loads ssh_exec when it is', () => {
    const config = { targets: { local: TARGET } };
    expect(load(config, [...READ_CAPABILITIES]).plugins[0]?.reason).toContain('host.network.ssh');
    const catalog = load(config);
    expect(catalog.plugins[0]).toMatchObject({ loaded: true, tools: ['ssh_exec'] });
    expect(catalog.tools.get('ssh_exec')?.tool.mutating).toBe(true);
  });

  it('fills target defaults and rejects a defaultTarget that names no target', () => {
    const parsed = OpsPluginConfigSchema.parse({ targets: { local: TARGET } });
    expect(parsed.targets.local).toMatchObject({
      port: 22,
      user: 'stackops',
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 60_000,
      maxOutputBytes: 65_536,
    });
    const bad = OpsPluginConfigSchema.safeParse({ targets: { local: TARGET }, defaultTarget: 'x' });
    expect(bad.error?.issues[0]?.path).toEqual(['defaultTarget']);
    expect(() => load({ targets: { local: { ...TARGET, port: 70_000 } } })).toThrow(
      'toolServer.plugins.ops.targets.local.port',
    );
  });

  it('picks the named target, else the default, else the only one', () => {
    const one = OpsPluginConfigSchema.parse({ targets: { a: TARGET } });
    expect(resolveTarget(one, undefined)[0]).toBe('a');
    const two = OpsPluginConfigSchema.parse({ targets: { a: TARGET, b: TARGET } });
    expect(() => resolveTarget(two, undefined)).toThrow('name a target');
    expect(resolveTarget({ ...two, defaultTarget: 'b' }, undefined)[0]).toBe('b');
    expect(resolveTarget(two, 'a')[0]).toBe('a');
    expect(() => resolveTarget(two, 'c')).toThrow('unknown target "c"; configured: a, b');
  });

  it('answers 400 for an unknown target name', async () => {
    const { app } = await createTestToolServer({
      allowCaps: [...READ_CAPABILITIES, 'host.network.ssh'],
      pluginConfigs: { ops: { targets: { local: TARGET } } },
    });
    const res = await app.request(
      '/call-tool',
      postJson(ADMIN, { name: 'ssh_exec', args: { command: 'echo hi', target: 'elsewhere' } }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: 'INVALID_ARGUMENTS', targets: ['local'] },
    });
  });
});

describe('ssh_exec command checks (mirroring the wrapper)', () => {
  it('accepts plain words and joins argv with single spaces', () => {
    expect(commandLine(CommandSchema.parse('docker  logs --tail=100 grafana'))).toBe(
      'docker logs --tail=100 grafana',
    );
    expect(commandLine(CommandSchema.parse(['docker', 'restart', 'app_1.web']))).toBe(
      'docker restart app_1.web',
    );
  });

  it.each([
    ['a shell metacharacter', ['echo', 'a|b']],
    ['a space inside an argument', ['echo', 'a b']],
    ['an empty argument', ['echo', '']],
    ['a quote', 'echo "x"'],
    ['a glob', 'ls *'],
    ['a tilde', 'ls ~'],
    ['a newline', 'echo a\nb'],
    ['path traversal', ['cat', 'logs/../../etc/shadow']],
    ['an empty command', '   '],
    ['an empty argv', []],
    ['an over-long command', Array.from({ length: 60 }, () => 'x'.repeat(20))],
  ])('refuses %s', (_what, command) => {
    expect(CommandSchema.safeParse(command).success).toBe(false);
  });
});
