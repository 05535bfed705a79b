import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createOpenApiDocument } from '../src/http/openapi.ts';
import { TOOL_SERVER_VERSION } from '../src/version.ts';

describe('docs/api/tool-server.openapi.json', () => {
  it('is the document the server serves (regenerate with npm run gen:openapi)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../../docs/api/tool-server.openapi.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(createOpenApiDocument(TOOL_SERVER_VERSION));
  });
});
