import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createOpenApiDocument } from '../src/http/openapi.ts';
import { BROWSER_VERSION } from '../src/version.ts';

describe('docs/api/browser.openapi.json', () => {
  it('is the document the service serves (regenerate with npm run gen:openapi)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../../docs/api/browser.openapi.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(createOpenApiDocument(BROWSER_VERSION));
  });

  it('documents every page endpoint with its failures', () => {
    const doc = createOpenApiDocument(BROWSER_VERSION) as {
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
    };
    for (const path of ['/screenshot', '/dom', '/snapshot', '/login']) {
      expect(Object.keys(doc.paths[path]?.post?.responses ?? {})).toEqual(
        expect.arrayContaining(['200', '400', '403', '429', '502', '504']),
      );
    }
  });

  it('names the scope of every route but /healthz, with a 403 for a token that lacks it', () => {
    const doc = createOpenApiDocument(BROWSER_VERSION) as {
      security: { bearer: string[] }[];
      paths: Record<
        string,
        Record<string, { security?: { bearer?: string[] }[]; responses: Record<string, unknown> }>
      >;
    };
    expect(doc.security).toEqual([{ bearer: ['browser.use'] }]);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const needs = (op.security ?? doc.security)[0]?.bearer ?? [];
        if (path === '/healthz') {
          expect(op.security).toEqual([]);
          continue;
        }
        expect(needs, `${method} ${path}`).toEqual([
          path === '/metrics' ? 'metrics.read' : 'browser.use',
        ]);
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('403');
      }
    }
  });
});
