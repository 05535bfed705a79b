import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, createLogger, createSilentLogger } from '@datamancy/core';
import { definePlugin, defineTool } from '@datamancy/plugin-sdk';
import { corePlugin } from '../src/plugins/core/index.ts';
import { llmPlugin } from '../src/plugins/llm/index.ts';
import { loadPlugins, type RegistryEntry } from '../src/runtime/loader.ts';

const entry = (plugin: unknown, config?: unknown): RegistryEntry => ({
  plugin: plugin as RegistryEntry['plugin'],
  config,
});

const dockerPlugin = definePlugin({
  id: 'docker',
  version: '2.0.0',
  apiVersion: 1,
  description: 'read and write tools',
  capabilities: ['host.docker.inspect'],
  tools: [
    defineTool({
      name: 'list_things',
      description: 'read',
      input: z.object({}),
      handler: () => [],
    }),
    defineTool({
      name: 'restart_things',
      description: 'write',
      capabilities: ['host.docker.write'],
      mutating: true,
      input: z.object({}),
      handler: () => 'ok',
    }),
  ],
});

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, logger: createLogger({ destination: destination }) };
}

describe('loadPlugins', () => {
  it('loads plugins whose capabilities are allowed and says so', () => {
    const { lines, logger } = capture();
    const catalog = loadPlugins([entry(corePlugin), entry(dockerPlugin)], {
      allowCaps: new Set(['host.network.http', 'host.docker.inspect']),
      hostVersion: '0.1.0',
      logger,
    });
    expect([...catalog.tools.keys()]).toEqual(
      expect.arrayContaining(['http_get', 'hash_sha256', 'list_things']),
    );
    expect(lines.join('')).toContain('Loaded plugin: core v1.0.0');
    expect(lines.join('')).toContain('Loaded plugin: docker v2.0.0');
  });

  it('skips a plugin whose capability is not allowed, logging why', () => {
    const { lines, logger } = capture();
    const catalog = loadPlugins([entry(dockerPlugin)], {
      allowCaps: new Set(['host.network.http']),
      hostVersion: '0.1.0',
      logger,
    });
    expect(catalog.tools.size).toBe(0);
    expect(catalog.plugins[0]).toMatchObject({
      id: 'docker',
      loaded: false,
      reason: 'capability not allowed: host.docker.inspect',
    });
    expect(lines.join('')).toContain('Skipped plugin: docker v2.0.0');
  });

  it('leaves out a write tool when only the read capability is allowed', () => {
    const catalog = loadPlugins([entry(dockerPlugin)], {
      allowCaps: new Set(['host.docker.inspect']),
      hostVersion: '0.1.0',
      logger: createSilentLogger(),
    });
    expect([...catalog.tools.keys()]).toEqual(['list_things']);
    const granted = loadPlugins([entry(dockerPlugin)], {
      allowCaps: new Set(['host.docker.inspect', 'host.docker.write']),
      hostVersion: '0.1.0',
      logger: createSilentLogger(),
    });
    expect([...granted.tools.keys()]).toEqual(['list_things', 'restart_things']);
  });

  it('loads the network tools of core only when host.network.http is allowed', () => {
    const catalog = loadPlugins([entry(corePlugin)], {
      allowCaps: new Set(),
      hostVersion: '0.1.0',
      logger: createSilentLogger(),
    });
    expect(catalog.tools.has('hash_sha256')).toBe(true);
    expect(catalog.tools.has('http_get')).toBe(false);
  });

  it('skips plugins whose version requirements are not met', () => {
    const needsNewHost = {
      ...dockerPlugin,
      id: 'future',
      requires: { host: '>=9.0.0' },
      tools: [],
    };
    const oldApi = { ...dockerPlugin, id: 'ancient', apiVersion: 0, tools: [] };
    const catalog = loadPlugins([entry(needsNewHost), entry(oldApi)], {
      allowCaps: new Set(['host.docker.inspect']),
      hostVersion: '0.1.0',
      logger: createSilentLogger(),
    });
    expect(catalog.plugins.map((p) => [p.id, p.loaded, p.reason])).toEqual([
      ['future', false, 'requires tool-server >=9.0.0, have 0.1.0'],
      ['ancient', false, 'written for plugin API v0, this server speaks v1'],
    ]);
  });

  it('fails at start-up on duplicate tool names, even in a plugin that would be skipped', () => {
    const clash = { ...dockerPlugin, id: 'clash', capabilities: ['host.network.ssh'] as const };
    expect(() =>
      loadPlugins([entry(dockerPlugin), entry(clash)], {
        allowCaps: new Set(),
        hostVersion: '0.1.0',
        logger: createSilentLogger(),
      }),
    ).toThrow(/duplicate tool name "list_things" in plugins docker and clash/);
  });

  it('fails at start-up on invalid plugin config, naming the path', () => {
    let error: unknown;
    try {
      loadPlugins([entry(corePlugin, { httpMaxBytes: 5 })], {
        allowCaps: new Set(),
        hostVersion: '0.1.0',
        logger: createSilentLogger(),
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]?.path).toBe('toolServer.plugins.core.httpMaxBytes');
  });

  it('skips the llm plugin without an LLM and loads it with one', () => {
    const allow = {
      allowCaps: new Set(['host.network.http'] as const),
      hostVersion: '0.1.0',
      logger: createSilentLogger(),
    };
    expect(loadPlugins([entry(llmPlugin, {})], allow).plugins[0]?.loaded).toBe(false);
    expect(
      loadPlugins([entry(llmPlugin, { baseUrl: 'http://127.0.0.1:1/v1' })], allow).tools.has(
        'llm_chat_completion',
      ),
    ).toBe(true);
  });
});

describe('definePlugin', () => {
  it('refuses a mutating tool that declares no write capability', () => {
    expect(() =>
      definePlugin({
        id: 'sneaky',
        version: '1.0.0',
        apiVersion: 1,
        description: 'x',
        capabilities: ['host.docker.inspect'],
        tools: [
          defineTool({
            name: 'wipe',
            description: 'x',
            mutating: true,
            input: z.object({}),
            handler: () => null,
          }),
        ],
      }),
    ).toThrow(/must require a write capability/);
  });

  it('refuses bad tool names', () => {
    expect(() =>
      definePlugin({
        id: 'names',
        version: '1.0.0',
        apiVersion: 1,
        description: 'x',
        capabilities: [],
        tools: [
          defineTool({
            name: 'Bad-Name',
            description: 'x',
            input: z.object({}),
            handler: () => null,
          }),
        ],
      }),
    ).toThrow(/must match/);
  });
});
