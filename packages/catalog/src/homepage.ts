import { stringify } from 'yaml';
import { GENERATED_HEADER } from './render.ts';
import type { Catalog } from './schema.ts';

/**
 * Homepage's services.yaml (a tile per public service, grouped by category, with a site
 * monitor on the internal address) and settings.yaml. The domain comes from Homepage's own
 * substitution (`{{HOMEPAGE_VAR_DOMAIN}}`, set from `.env` by the compose file).
 */

const titleCase = (s: string): string =>
  s
    .split(/[-_]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');

export function renderHomepageServices(catalog: Catalog): string {
  const groups = new Map<string, Record<string, unknown>[]>();
  const publicServices = catalog.services
    .filter((s) => s.hostname !== undefined && s.port !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const s of publicServices) {
    const group = s.category ?? titleCase(s.profiles[0] ?? 'services');
    const tiles = groups.get(group) ?? [];
    tiles.push({
      [titleCase(s.name)]: {
        href: `https://${s.hostname ?? s.name}.{{HOMEPAGE_VAR_DOMAIN}}`,
        description: s.description,
        siteMonitor: `http://${s.name}:${String(s.port)}`,
      },
    });
    groups.set(group, tiles);
  }
  const document = [...groups.keys()].sort().map((g) => ({ [g]: groups.get(g) }));
  return GENERATED_HEADER + stringify(document, { lineWidth: 0 });
}

export function renderHomepageSettings(): string {
  return (
    GENERATED_HEADER +
    stringify(
      {
        title: 'Datamancy',
        theme: 'dark',
        headerStyle: 'clean',
        hideVersion: true,
        layout: { Bootstrap: { style: 'row', columns: 4 } },
      },
      { lineWidth: 0 },
    )
  );
}
