import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@datamancy/core';
import { expandManifest, loadManifestFile, wellKnownPort } from '../src/manifest/expand.ts';

const options = { domain: 'stack.example', defaultIntervalS: 30 };

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('probe manifest', () => {
  it('expands the original shape into default checks with ${DOMAIN} substituted', () => {
    const manifest = expandManifest(
      {
        services: [
          {
            name: 'grafana',
            internal: ['http://grafana:3000/api/health'],
            external: ['https://grafana.${DOMAIN}/'],
          },
          { name: 'ldap' },
          { name: 'redis', internal: [] },
          { name: 'postgres' },
          { name: 'worker' },
        ],
      },
      options,
    );
    const [grafana, ldap, redis, postgres, worker] = manifest.services;
    expect(grafana?.intervalS).toBe(30);
    expect(grafana?.checks.map((c) => [c.name, c.kind, c.critical])).toEqual([
      ['internal', 'http', true],
      ['external', 'http', true],
      ['page', 'browser', false],
    ]);
    expect(grafana?.checks[1]).toMatchObject({
      url: 'https://grafana.stack.example/',
      expectStatus: ['200-399'],
    });
    expect(grafana?.checks[0]).toMatchObject({
      expectStatus: ['<500'],
      timeoutMs: 10_000,
      retries: 1,
    });
    expect(grafana?.checks[2]).toMatchObject({ loginWall: 'pass', intervalS: 300 });
    // no URL: a TCP check on the well-known port, not an automatic failure
    expect(ldap?.checks).toEqual([
      expect.objectContaining({ kind: 'tcp', host: 'ldap', port: 389 }),
    ]);
    expect(redis?.checks[0]).toMatchObject({ kind: 'tcp', port: 6379 });
    expect(postgres?.checks[0]).toMatchObject({ kind: 'tcp', port: 5432 });
    // unknown and URL-less: watched through its container
    expect(worker?.checks[0]).toMatchObject({ kind: 'container', container: 'worker' });
  });

  it('applies defaults, names checks and keeps explicit checks alone', () => {
    const manifest = expandManifest(
      {
        defaults: { intervalS: 60, timeoutMs: 2000, retries: 0, thresholds: { failure: 3 } },
        services: [
          {
            name: 'app',
            container: 'app-1',
            intervalS: 10,
            thresholds: { success: 2 },
            checks: [
              { kind: 'http', url: 'http://app:8080/' },
              { kind: 'http', url: 'http://app:8080/health', timeoutMs: 500 },
              { kind: 'container' },
            ],
          },
        ],
      },
      options,
    );
    const app = manifest.services[0];
    expect(app).toMatchObject({ intervalS: 10, thresholds: { failure: 3, success: 2 } });
    expect(app?.checks.map((c) => c.name)).toEqual(['http', 'http-2', 'container']);
    expect(app?.checks[1]).toMatchObject({ timeoutMs: 500, retries: 0 });
    expect(app?.checks[2]).toMatchObject({ kind: 'container', container: 'app-1', maxRestarts: 3 });
  });

  it('names every invalid path at once', () => {
    const issues = issuesOf(() =>
      expandManifest(
        {
          services: [
            { name: 'ok', checks: [{ kind: 'http', url: 'not a url' }] },
            { name: 'bad name!' },
            { name: 'x', checks: [{ kind: 'tcp', host: 'x', port: 70000 }, { kind: 'smoke' }] },
          ],
        },
        options,
      ),
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('services[0].checks[0].url');
    expect(paths).toContain('services[1].name');
    expect(paths).toContain('services[2].checks[0].port');
    expect(paths).toContain('services[2].checks[1].kind');
  });

  it('refuses duplicate names, unknown dependencies and cycles', () => {
    expect(
      issuesOf(() => expandManifest({ services: [{ name: 'a' }, { name: 'a' }] }, options)),
    ).toEqual([{ path: 'services[1].name', message: '"a" is already used by services[0]' }]);
    expect(
      issuesOf(() => expandManifest({ services: [{ name: 'a', dependsOn: ['ghost'] }] }, options)),
    ).toEqual([{ path: 'services[0].dependsOn[0]', message: 'unknown service "ghost"' }]);
    const cycle = issuesOf(() =>
      expandManifest(
        {
          services: [
            { name: 'a', dependsOn: ['b'] },
            { name: 'b', dependsOn: ['c'] },
            { name: 'c', dependsOn: ['a'] },
          ],
        },
        options,
      ),
    );
    expect(cycle[0]?.message).toBe('dependency cycle: a → b → c → a');
    expect(
      issuesOf(() =>
        expandManifest(
          {
            services: [
              {
                name: 'a',
                checks: [
                  { kind: 'tcp', name: 'x', host: 'a', port: 1 },
                  { kind: 'tcp', name: 'x', host: 'a', port: 2 },
                ],
              },
            ],
          },
          options,
        ),
      )[0]?.path,
    ).toBe('services[0].checks[1].name');
  });

  it('reads YAML and JSON files and names the file in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-manifest-'));
    const yaml = join(dir, 'services.yaml');
    writeFileSync(yaml, 'services:\n  - name: wiki\n    external: ["https://wiki.${DOMAIN}"]\n');
    expect(loadManifestFile(yaml, options).services[0]?.checks[0]).toMatchObject({
      url: 'https://wiki.stack.example',
    });
    const json = join(dir, 'services.json');
    writeFileSync(
      json,
      JSON.stringify({ services: [{ name: 'wiki', internal: ['http://wiki:3000'] }] }),
    );
    expect(loadManifestFile(json, options).services).toHaveLength(1);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'services: [ {name: }');
    expect(() => loadManifestFile(broken, options)).toThrow(/broken\.yaml/);
    expect(() => loadManifestFile(join(dir, 'missing.yaml'), options)).toThrow(/cannot read/);
  });

  it('knows the well-known ports by any part of the name', () => {
    expect(wellKnownPort('stack-postgres-1')).toBe(5432);
    expect(wellKnownPort('mariadb')).toBe(3306);
    expect(wellKnownPort('grafana')).toBeUndefined();
  });
});
