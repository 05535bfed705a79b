import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@datamancy/core';
import { addressToBase, loadCaddyfile, parseCaddyfile, parseUpstream } from '../src/index.ts';

const CADDYFILE = join(fileURLToPath(new URL('./fixtures/stack', import.meta.url)), 'Caddyfile');
const env = { DOMAIN: 'example.org' };
const run = promisify(execFile);

const routesOf = (text: string, e: Record<string, string> = env) => {
  const warnings: string[] = [];
  const { routes } = parseCaddyfile(text, 'Caddyfile', { env: e, warn: (w) => warnings.push(w) });
  return {
    warnings,
    routes: routes.map((r) => ({
      urls: r.urls,
      to: `${r.upstream.host}:${r.upstream.port ?? ''}`,
      ...(r.auth === undefined ? {} : { auth: r.auth.host }),
    })),
  };
};

describe('Caddyfile routes', () => {
  it('reads the fixture: snippets, nested imports, forward_auth, handle, handle_path, route, matchers', () => {
    const { routes, warnings } = routesOf('', {});
    expect(routes).toEqual([]);
    expect(warnings).toEqual([]);
    const warned: string[] = [];
    const parsed = loadCaddyfile(CADDYFILE, { env, warn: (w) => warned.push(w) });
    expect(
      parsed.routes.map((r) => [r.urls.join(' '), r.upstream.host, r.upstream.port, r.auth?.host]),
    ).toEqual([
      ['https://auth.example.org', 'authelia', 9091, undefined],
      ['https://grafana.example.org', 'grafana', 3000, 'authelia'],
      // the snippet `protected` imports the snippet `authelia`
      ['https://chat.example.org https://ai.example.org', 'open-webui', 8080, 'authelia'],
      ['https://wiki.example.org', 'wiki', 80, 'authelia'],
      // forward_auth inside one handle guards that handle only
      ['https://vault.example.org/admin', 'vaultwarden', 80, 'authelia'],
      ['https://vault.example.org', 'vaultwarden', 80, undefined],
      ['https://example.org/llm/', 'vllm', 8000, 'authelia'],
      ['https://example.org', 'homepage', 3000, 'authelia'],
      // a wildcard site: the named matcher's host is the address
      ['https://status.apps.example.org', 'uptime-kuma', 3001, undefined],
    ]);
    expect(warned).toEqual([]);
  });

  it('substitutes {$VAR}, {$VAR:default} and {env.VAR}, and warns about unset ones', () => {
    const { routes, warnings } = routesOf(
      [
        'grafana.{$DOMAIN}, www.{env.DOMAIN} {',
        '  reverse_proxy grafana:3000',
        '}',
        'http://{$DOCS_HOST:docs.internal}:8080 {',
        '  reverse_proxy docs:80',
        '}',
        'x.{$NOPE}example.org {',
        '  reverse_proxy x:1',
        '}',
      ].join('\n'),
    );
    expect(routes.map((r) => r.urls)).toEqual([
      ['https://grafana.example.org', 'https://www.example.org'],
      ['http://docs.internal:8080'],
      ['https://x.example.org'],
    ]);
    expect(warnings).toEqual(['Caddyfile: variable NOPE is not set; using ""']);
  });

  it('reads upstreams in every spelling and a site without braces', () => {
    const { routes, warnings } = routesOf(
      [
        'example.org',
        '# one site, no braces',
        'reverse_proxy /api/* http://api:8080 h2c://api2:9000',
        'reverse_proxy @ws {',
        '  to ws:7000',
        '  lb_policy first',
        '}',
        'reverse_proxy {upstream} unix//run/app.sock',
        'respond "not here } {" 404',
      ].join('\n'),
    );
    expect(routes).toEqual([
      { urls: ['https://example.org/api/'], to: 'api:8080' },
      { urls: ['https://example.org/api/'], to: 'api2:9000' },
      { urls: ['https://example.org'], to: 'ws:7000' },
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('upstream "{upstream}" is not host:port');
    expect(parseUpstream('[::1]:8080')).toEqual({ host: '[::1]', port: 8080 });
    expect(addressToBase(':443')).toBeUndefined();
    expect(addressToBase('*.example.org')).toBeUndefined();
    expect(addressToBase('example.org:80')).toEqual({ base: 'http://example.org', path: '' });
    expect(addressToBase('https://example.org:8443/app/*')).toEqual({
      base: 'https://example.org:8443',
      path: '/app/',
    });
  });

  it('warns about imports it does not follow and sites without a host', () => {
    const { routes, warnings } = routesOf(
      'import sites/*.caddy\n:8080 {\n  import common.caddy\n  reverse_proxy app:80\n}\n',
    );
    expect(routes).toEqual([]);
    expect(warnings).toEqual([
      'Caddyfile: top-level import sites/*.caddy is not followed',
      'Caddyfile:3: import common.caddy is not a snippet here; not followed',
      'Caddyfile:4: reverse_proxy in a site without a concrete host; no external URL',
    ]);
  });

  it('rejects malformed Caddyfiles with the file and line', () => {
    const error = (text: string): { message: string; path: string } => {
      try {
        parseCaddyfile(text, 'bad/Caddyfile', { env });
      } catch (err) {
        if (err instanceof ConfigError)
          return { message: err.message, path: err.issues[0]?.path ?? '' };
        throw err;
      }
      throw new Error('expected a ConfigError');
    };
    expect(error('a.example.org {\n  reverse_proxy a:1\n')).toMatchObject({ path: 'line 2' });
    expect(error('a.example.org {\n}\n}\n')).toMatchObject({ path: 'line 3' });
    expect(error('a.example.org {\n  respond "open\n}\n').message).toContain(
      'invalid configuration (bad/Caddyfile)',
    );
    expect(error('a.example.org {\n  handle { respond x }\n}\n').path).toBe('line 2');
    expect(
      error('(loop) {\n  import loop\n}\na.example.org {\n  import loop\n}\n').message,
    ).toContain('imports nest deeper than 10');
    expect(() => loadCaddyfile('/nonexistent/Caddyfile', { env })).toThrow(/cannot read/);
  });

  it('uses a fixture that Caddy itself accepts (caddy from scripts/setup-system.sh)', async () => {
    const { stdout } = await run(
      'caddy',
      ['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'],
      { env: { ...process.env, DOMAIN: 'example.org' } },
    );
    const json = JSON.parse(stdout) as unknown;
    expect(JSON.stringify(json)).toContain('grafana:3000');
    expect(JSON.stringify(json)).toContain('authelia:9091');
  });
});
