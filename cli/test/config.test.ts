import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadDatamancyConfig } from '../src/config.ts';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'datamancy.example.yaml');

describe('datamancy.example.yaml', () => {
  it('parses against the full schema and matches the documented defaults', () => {
    const config = loadDatamancyConfig({ config: EXAMPLE }, {});
    expect(config.toolServer.port).toBe(8081);
    expect(config.toolServer.allowCaps).toBeUndefined();
    expect(config.auth.tokens[0]?.scopes).toEqual(['host.docker.inspect', 'host.network.http']);
    expect(config.llm.maxSteps).toBe(8);
    expect(config.dataDir.endsWith('/data')).toBe(true);
  });

  it('lets the environment and --set override the file', () => {
    const config = loadDatamancyConfig(
      { config: EXAMPLE, set: ['toolServer.port=9999'] },
      {
        KFUNCDB_ALLOW_CAPS: 'host.docker.inspect,host.docker.write',
        TOOLSERVER_PORT: '7000',
        DATAMANCY_DATA_DIR: '/tmp/dm',
      },
    );
    expect(config.toolServer.port).toBe(9999);
    expect(config.toolServer.allowCaps).toEqual(['host.docker.inspect', 'host.docker.write']);
    expect(config.dataDir).toBe('/tmp/dm');
  });
});
