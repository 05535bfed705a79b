import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig, parseOverrides } from '../src/index.ts';

const Schema = z.object({
  name: z.string().default('svc'),
  server: z
    .object({
      port: z.number().int().min(0).max(65535).default(8081),
      caps: z.array(z.enum(['a', 'b'])).default([]),
    })
    .prefault({}),
  debug: z.boolean().default(false),
});

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dm-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('fills every default from the schema when nothing is given', () => {
    expect(loadConfig({ schema: Schema })).toEqual({
      name: 'svc',
      server: { port: 8081, caps: [] },
      debug: false,
    });
  });

  it('layers file, then environment, then --set overrides', () => {
    const file = tempFile('c.yaml', 'name: fromfile\nserver:\n  port: 9000\n  caps: [a]\n');
    const config = loadConfig({
      schema: Schema,
      file,
      env: { SVC_PORT: '9100', SVC_DEBUG: 'yes' },
      bindings: [
        { env: 'SVC_PORT', path: 'server.port', kind: 'int' },
        { env: 'SVC_DEBUG', path: 'debug', kind: 'bool' },
      ],
      overrides: ['name=fromflag'],
    });
    expect(config).toEqual({ name: 'fromflag', server: { port: 9100, caps: ['a'] }, debug: true });
  });

  it('takes the first bound variable that is set when two name the same path', () => {
    const config = loadConfig({
      schema: Schema,
      env: { NEW_CAPS: 'b', OLD_CAPS: 'a' },
      bindings: [
        { env: 'OLD_CAPS', path: 'server.caps', kind: 'list' },
        { env: 'NEW_CAPS', path: 'server.caps', kind: 'list' },
      ],
    });
    expect(config.server.caps).toEqual(['a']);
  });

  it('reports every invalid path at once and names the variable that set it', () => {
    const file = tempFile(
      'c.json',
      JSON.stringify({ server: { port: 70000, caps: ['a', 'zzz'] } }),
    );
    let error: unknown;
    try {
      loadConfig({
        schema: Schema,
        file,
        env: { SVC_DEBUG: 'maybe' },
        bindings: [{ env: 'SVC_DEBUG', path: 'debug', kind: 'bool' }],
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => i.path).sort()).toEqual(['debug', 'server.caps[1]', 'server.port']);
    expect(issues.find((i) => i.path === 'debug')?.message).toContain('set by SVC_DEBUG');
    expect((error as ConfigError).message).toContain('server.port');
  });

  it('refuses an unreadable or malformed file with a clear message', () => {
    expect(() => loadConfig({ schema: Schema, file: '/nonexistent/datamancy.yaml' })).toThrow(
      /cannot read/,
    );
    const bad = tempFile('bad.yaml', 'server: [unclosed');
    expect(() => loadConfig({ schema: Schema, file: bad })).toThrow(/not valid YAML/);
    const list = tempFile('list.yaml', '- a\n- b\n');
    expect(() => loadConfig({ schema: Schema, file: list })).toThrow(/mapping at the top level/);
  });

  it('reads an empty YAML section as the defaults', () => {
    const file = tempFile('empty.yaml', 'server:\n  # port: 9000\nname:\n');
    expect(loadConfig({ schema: Schema, file })).toEqual({
      name: 'svc',
      server: { port: 8081, caps: [] },
      debug: false,
    });
  });

  it('rejects out-of-range values instead of clamping them', () => {
    expect(() => loadConfig({ schema: Schema, overrides: ['server.port=-1'] })).toThrow(
      ConfigError,
    );
  });
});

describe('parseOverrides', () => {
  it('reads values as YAML scalars and refuses pairs without a key', () => {
    expect(parseOverrides(['a.b=8081', 'a.c=true', 'd=text'])).toEqual({
      a: { b: 8081, c: true },
      d: 'text',
    });
    expect(() => parseOverrides(['=x'])).toThrow(/key.path=value/);
  });
});
