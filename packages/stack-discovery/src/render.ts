import { stringify } from 'yaml';
import type { DependencyGraph, StackManifest } from './types.ts';

/** Output formats for the CLI and anyone else who writes a discovered manifest. */

export type OutputFormat = 'yaml' | 'json';

/** The manifest as written: empty lists left out (the probe defaults them to empty). */
export function compactManifest(manifest: StackManifest): Record<string, unknown> {
  return {
    ...manifest,
    services: manifest.services.map((service) =>
      Object.fromEntries(
        Object.entries(service).filter(([, v]) => !(Array.isArray(v) && v.length === 0)),
      ),
    ),
  };
}

export function renderManifest(
  manifest: StackManifest,
  format: OutputFormat,
  header?: string,
): string {
  const document = compactManifest(manifest);
  if (format === 'json') return `${JSON.stringify(document, null, 2)}\n`;
  const comment =
    header === undefined
      ? ''
      : header
          .split('\n')
          .map((l) => `# ${l}`.trimEnd())
          .join('\n') + '\n';
  return comment + stringify(document, { lineWidth: 0 });
}

/** One line per edge, `from -> to (reason)`; services without edges on a line of their own. */
export function renderGraphText(graph: DependencyGraph): string {
  const lines: string[] = [];
  for (const node of graph.nodes) {
    const edges = graph.edges.filter((e) => e.from === node.name);
    const linked = edges.length > 0 || graph.edges.some((e) => e.to === node.name);
    for (const e of edges) {
      lines.push(
        `${e.from} -> ${e.to} (${e.reason}${e.condition === undefined ? '' : `: ${e.condition}`})`,
      );
    }
    if (!linked) lines.push(node.name);
  }
  for (const cycle of graph.cycles) lines.push(`cycle: ${cycle.join(' -> ')}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
