import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expandManifest } from '@datamancy/probe';
import { discoverStack } from '@datamancy/stack-discovery';
import { runCli } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('datamancy render', () => {
  it('says the committed stack files are current, and explains itself', async () => {
    const check = await runCli(['render', '--check'], { cwd: ROOT });
    expect(check.stdout).toBe('3 file(s) current\n');
    expect(check.code).toBe(0);
    const help = await runCli(['render', '--help'], { cwd: ROOT });
    expect(help.stdout).toContain('--check');
    const missing = await runCli(['render', '--catalog', 'nope.yaml'], { cwd: ROOT });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read nope.yaml');
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
