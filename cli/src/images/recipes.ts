import type { Catalog } from '@datamancy/catalog';
import { UsageError } from '../errors.ts';

/**
 * What `datamancy images build` can make on a machine that pulls nothing: a Debian root
 * filesystem (mmdebstrap), a Node 20 base from it, the project's own images from the project's
 * Dockerfile, and stand-ins for the third-party images whose software Debian ships.
 */

export const BOOKWORM_TAG = 'localhost/datamancy/bookworm:local';
export const NODE_TAG = 'localhost/datamancy/node:20-local';

/** The services of the `local` profile: what this machine can run. */
export const LOCAL_SERVICES = [
  'caddy',
  'ldap',
  'redis',
  'postgres',
  'docker-proxy',
  'tool-server',
  'browser',
  'probe',
  'model-router',
  'speech-gateway',
] as const;

export type Recipe =
  | {
      kind: 'rootfs';
      name: string;
      tag: string;
      /** Debian packages beyond the minimal base. */
      include: string[];
      needs: string[];
    }
  | {
      kind: 'dockerfile';
      name: string;
      tag: string;
      /** The build context, relative to the checkout. */
      context: string;
      /** Relative to the checkout; default `<context>/Dockerfile`. */
      dockerfile?: string;
      target?: string;
      buildArgs: Record<string, string>;
      /** Built before this one (its FROM). */
      needs: string[];
      /** The catalog images this one stands in for (none: it is the image itself). */
      replaces: string[];
      /** The host's Node into the context as node.tar. */
      hostNode?: boolean;
      /** What differs from the upstream image, in a line (docs/stack.md has the rest). */
      note: string;
    };

const BASE = {
  kind: 'rootfs',
  name: 'bookworm',
  tag: BOOKWORM_TAG,
  include: ['ca-certificates'],
  needs: [],
} as const satisfies Recipe;

const NODE: Recipe = {
  kind: 'dockerfile',
  name: 'node',
  tag: NODE_TAG,
  context: 'stack/images/node',
  buildArgs: { BASE_IMAGE: BOOKWORM_TAG },
  needs: ['bookworm'],
  replaces: [],
  hostNode: true,
  note: "this machine's Node 20 and npm on the bookworm base (Debian ships Node 18)",
};

function standIn(name: string, upstream: string, note: string): Recipe {
  return {
    kind: 'dockerfile',
    name,
    tag: `localhost/datamancy/${name}-standin:local`,
    context: `stack/images/${name}`,
    buildArgs: { BASE_IMAGE: BOOKWORM_TAG },
    needs: ['bookworm'],
    replaces: [upstream],
    note,
  };
}

function projectImage(tag: string, target: string): Recipe {
  return {
    kind: 'dockerfile',
    name: target,
    tag,
    context: '.',
    dockerfile: 'Dockerfile',
    target,
    buildArgs: { NODE_IMAGE: NODE_TAG },
    needs: ['node'],
    replaces: [],
    note: 'the Dockerfile users build, on the Node 20 base built here',
  };
}

/** Stand-ins by the upstream image's repository (any tag of it). */
const STAND_INS: Readonly<Record<string, (image: string) => Recipe>> = {
  caddy: (image) => standIn('caddy', image, "Debian's Caddy 2.6"),
  'bitnami/openldap': (image) => standIn('openldap', image, "Debian's slapd 2.5"),
  redis: (image) => standIn('redis', image, "Debian's Redis 7.0"),
  postgres: (image) => standIn('postgres', image, "Debian's PostgreSQL 15"),
};

const PROJECT_TARGETS: Readonly<Record<string, string>> = {
  'datamancy/control-plane': 'control-plane',
  'datamancy/control-plane-browser': 'control-plane-browser',
};

function repository(image: string): string {
  return image.replace(/@sha256:[0-9a-f]+$/, '').replace(/:[\w.-]+$/, '');
}

/** The services a profile runs; only `local` can be built here. */
export function profileServices(catalog: Catalog, profile: string): string[] {
  if (profile !== 'local') {
    throw new UsageError(
      `--profile: only "local" can be built here (its images are Debian software and the project's own); "${profile}" needs images from a registry`,
    );
  }
  const names = new Set(catalog.services.map((s) => s.name));
  const missing = LOCAL_SERVICES.filter((n) => !names.has(n));
  if (missing.length > 0)
    throw new UsageError(`the catalog has no ${missing.join(', ')}: the local profile needs them`);
  return [...LOCAL_SERVICES];
}

/**
 * The recipes for these services' images, dependencies first (each once). An image that is
 * neither the project's nor has a stand-in is an error naming the service.
 */
export function recipesFor(catalog: Catalog, services: readonly string[]): Recipe[] {
  const wanted = new Map<string, Recipe>();
  for (const name of services) {
    const service = catalog.services.find((s) => s.name === name);
    if (service === undefined) throw new UsageError(`no service "${name}" in the catalog`);
    const repo = repository(service.image);
    const target = PROJECT_TARGETS[repo];
    const recipe =
      target !== undefined ? projectImage(service.image, target) : STAND_INS[repo]?.(service.image);
    if (recipe === undefined) {
      throw new UsageError(
        `${name}: no way to build ${service.image} here (no stand-in for ${repo}); the local profile has only Debian software and the project's images`,
      );
    }
    const seen = wanted.get(recipe.name);
    if (seen !== undefined && seen.kind === 'dockerfile' && recipe.kind === 'dockerfile') {
      for (const r of recipe.replaces) if (!seen.replaces.includes(r)) seen.replaces.push(r);
    } else if (seen === undefined) wanted.set(recipe.name, recipe);
  }
  const all = new Map<string, Recipe>([
    [BASE.name, { ...BASE, include: [...BASE.include], needs: [] }],
    [NODE.name, NODE],
  ]);
  const ordered: Recipe[] = [];
  const visit = (recipe: Recipe): void => {
    if (ordered.includes(recipe)) return;
    for (const need of recipe.needs) {
      const dep = all.get(need) ?? wanted.get(need);
      if (dep !== undefined) visit(dep);
    }
    ordered.push(recipe);
  };
  for (const recipe of wanted.values()) visit(recipe);
  return ordered;
}

/** Catalog image → the tag built here that runs in its place (stand-ins only). */
export function standInTags(recipes: readonly Recipe[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const r of recipes)
    if (r.kind === 'dockerfile') for (const image of r.replaces) map[image] = r.tag;
  return map;
}

/** Just the named recipes and what they are built on, in build order. */
export function onlyRecipes(recipes: readonly Recipe[], names: readonly string[]): Recipe[] {
  const unknown = names.filter((n) => !recipes.some((r) => r.name === n));
  if (unknown.length > 0)
    throw new UsageError(
      `--only: no image named ${unknown.join(', ')}; this profile has ${recipes.map((r) => r.name).join(', ')}`,
    );
  const keep = new Set<string>();
  const add = (name: string): void => {
    if (keep.has(name)) return;
    keep.add(name);
    for (const need of recipes.find((r) => r.name === name)?.needs ?? []) add(need);
  };
  names.forEach(add);
  return recipes.filter((r) => keep.has(r.name));
}
