import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expandManifest, loadManifestFile } from '@datamancy/probe';
import { loadCatalog, renderStack, STACK_FILES } from '@datamancy/catalog';
import { discoverStack } from '@datamancy/stack-discovery';
import { runCli } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('datamancy render', () => {
  it('says the committed stack files are current, and explains itself', async () => {
    const check = await runCli(['render', '--check'], { cwd: ROOT });
    expect(check.stdout).toBe(
      `${String(renderStack(loadCatalog(join(ROOT, 'stack/catalog.yaml'))).length)} file(s) current\n`,
    );
    expect(STACK_FILES.length).toBeGreaterThanOrEqual(13);
    expect(check.code).toBe(0);
    const help = await runCli(['render', '--help'], { cwd: ROOT });
    expect(help.stdout).toContain('--check');
    const missing = await runCli(['render', '--catalog', 'nope.yaml'], { cwd: ROOT });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read nope.yaml');
  });

  it('renders a probe manifest the probe accepts, with SSO apps depending on Authelia', () => {
    const manifest = loadManifestFile(join(ROOT, 'stack', 'probe', 'services.yaml'), {
      domain: 'example.org',
      defaultIntervalS: 30,
    });
    const by = (name: string) => manifest.services.find((s) => s.name === name);
    expect(by('grafana')?.dependsOn).toEqual([
      'authelia',
      'caddy',
      'clickhouse',
      'postgres',
      'prometheus',
    ]);
    expect(by('grafana')?.checks.map((c) => c.kind)).toEqual([
      'container',
      'http',
      'http',
      'browser',
    ]);
    expect(by('ldap')?.checks[0]).toMatchObject({ kind: 'tcp', host: 'ldap', port: 1389 });
    // on database, where the probe has no seat: watched through its container
    expect(by('postgres')?.checks.map((c) => c.kind)).toEqual(['container']);
    expect(manifest.services.length).toBeGreaterThan(40);
  });

  it('renders a stack that discovery reads into a manifest the probe accepts', async () => {
    const result = await discoverStack({
      composeFiles: [join(ROOT, 'stack', 'docker-compose.yml')],
      caddyfile: join(ROOT, 'stack', 'caddy', 'Caddyfile'),
      profiles: ['*'],
      domain: 'example.org',
      env: { DOMAIN: 'example.org' },
    });
    const manifest = expandManifest(result.manifest, {
      domain: 'example.org',
      defaultIntervalS: 30,
    });
    const names = manifest.services.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining(['caddy', 'authelia', 'ldap', 'postgres', 'probe', 'grafana']),
    );
    // SSO-protected apps depend on the identity services
    expect(manifest.services.find((s) => s.name === 'grafana')?.dependsOn).toEqual(
      expect.arrayContaining(['authelia', 'postgres']),
    );
  });
});

describe('the rendered model router configuration', () => {
  it('is a datamancy.yaml the control plane accepts, routing the catalog models to vLLM', async () => {
    const { loadDatamancyConfig } = await import('../src/config.ts');
    const config = loadDatamancyConfig(
      { config: join(ROOT, 'stack', 'model-router', 'datamancy.yaml') },
      {},
    );
    expect(config.modelRouter.models.map((m) => [m.name, m.aliases, m.backend.kind])).toEqual([
      ['default', ['chat'], 'url'],
    ]);
  });
});
