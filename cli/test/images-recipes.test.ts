import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '@datamancy/catalog';
import {
  BOOKWORM_TAG,
  LOCAL_SERVICES,
  NODE_TAG,
  onlyRecipes,
  profileServices,
  recipesFor,
  standInTags,
} from '../src/images/recipes.ts';

const catalog = loadCatalog(fileURLToPath(new URL('../../stack/catalog.yaml', import.meta.url)));

describe('images build: what the local profile needs', () => {
  it('builds the base first, the Node base before the project images, each image once', () => {
    const recipes = recipesFor(catalog, profileServices(catalog, 'local'));
    const names = recipes.map((r) => r.name);
    expect(names[0]).toBe('bookworm');
    expect(new Set(names).size).toBe(names.length);
    expect(names.indexOf('node')).toBeLessThan(names.indexOf('control-plane'));
    expect(names.indexOf('node')).toBeLessThan(names.indexOf('control-plane-browser'));
    expect([...names].sort()).toEqual(
      [
        'bookworm',
        'node',
        'caddy',
        'openldap',
        'redis',
        'postgres',
        'control-plane',
        'control-plane-browser',
      ].sort(),
    );
    // the project's images keep the catalog's own tags; only the base is swapped
    const project = recipes.find((r) => r.name === 'control-plane');
    expect(project).toMatchObject({
      kind: 'dockerfile',
      tag: catalog.services.find((s) => s.name === 'tool-server')?.image,
      dockerfile: 'Dockerfile',
      target: 'control-plane',
      buildArgs: { NODE_IMAGE: NODE_TAG },
    });
    for (const r of recipes)
      if (r.kind === 'dockerfile' && r.name !== 'node' && r.needs.includes('bookworm'))
        expect(r.buildArgs.BASE_IMAGE).toBe(BOOKWORM_TAG);
  });

  it('maps each third-party image of the profile to its stand-in, never reusing the upstream tag', () => {
    const tags = standInTags(recipesFor(catalog, [...LOCAL_SERVICES]));
    const imageOf = (name: string) => catalog.services.find((s) => s.name === name)?.image ?? '';
    expect(tags).toEqual({
      [imageOf('caddy')]: 'localhost/datamancy/caddy-standin:local',
      [imageOf('ldap')]: 'localhost/datamancy/openldap-standin:local',
      [imageOf('redis')]: 'localhost/datamancy/redis-standin:local',
      [imageOf('postgres')]: 'localhost/datamancy/postgres-standin:local',
    });
  });

  it('refuses a profile or a service whose images cannot be had here, naming it', () => {
    expect(() => profileServices(catalog, 'applications')).toThrow(
      /only "local" can be built here/,
    );
    expect(() => recipesFor(catalog, ['grafana'])).toThrow(
      /grafana: no way to build grafana\/grafana-oss:[\d.]+ here/,
    );
    expect(() => recipesFor(catalog, ['ghost'])).toThrow(/no service "ghost"/);
  });

  it('narrows to named images and what they are built on, refusing an unknown name', () => {
    const all = recipesFor(catalog, profileServices(catalog, 'local'));
    expect(onlyRecipes(all, ['redis']).map((r) => r.name)).toEqual(['bookworm', 'redis']);
    expect(onlyRecipes(all, ['control-plane']).map((r) => r.name)).toEqual([
      'bookworm',
      'node',
      'control-plane',
    ]);
    expect(() => onlyRecipes(all, ['nginx'])).toThrow(
      /--only: no image named nginx; this profile has bookworm/,
    );
  });
});
