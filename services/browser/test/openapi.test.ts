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
});
