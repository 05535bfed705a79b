import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createOpenApiDocument } from '../src/http/openapi.ts';
import { PROBE_VERSION } from '../src/version.ts';

describe('docs/api/probe.openapi.json', () => {
  it('is the document the service serves (regenerate with npm run gen:openapi)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../../docs/api/probe.openapi.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(createOpenApiDocument(PROBE_VERSION));
  });

  it('documents every mutating route with 400/401/403', () => {
    const doc = createOpenApiDocument(PROBE_VERSION) as {
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
    };
    for (const path of ['/start-stack-probe', '/start-probe', '/maintenance']) {
      expect(Object.keys(doc.paths[path]?.post?.responses ?? {})).toEqual(
        expect.arrayContaining(['400', '401', '403']),
      );
    }
  });
});
