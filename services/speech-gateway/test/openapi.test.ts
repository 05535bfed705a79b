import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenApiDocument } from '../src/http/openapi.ts';
import { SPEECH_GATEWAY_VERSION } from '../src/version.ts';
import { startTestGateway, type TestGateway } from './helpers.ts';

describe('docs/api/speech-gateway.openapi.json', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('is the document the service serves (regenerate with npm run gen:openapi)', async () => {
    const committed = JSON.parse(
      readFileSync(
        new URL('../../../docs/api/speech-gateway.openapi.json', import.meta.url),
        'utf8',
      ),
    ) as unknown;
    const res = await gateway.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(committed).toEqual(await res.json());
    expect(committed).toEqual(createOpenApiDocument(SPEECH_GATEWAY_VERSION));
  });

  it('documents both audio endpoints with their failures', () => {
    const doc = createOpenApiDocument(SPEECH_GATEWAY_VERSION) as {
      paths: Record<
        string,
        { post?: { responses: Record<string, unknown>; requestBody: unknown } }
      >;
    };
    for (const path of ['/v1/audio/transcriptions', '/v1/audio/speech']) {
      expect(Object.keys(doc.paths[path]?.post?.responses ?? {})).toEqual(
        expect.arrayContaining(['200', '400', '401', '403', '413', '429', '502', '504']),
      );
    }
    expect(JSON.stringify(doc.paths['/v1/audio/transcriptions']?.post?.requestBody)).toContain(
      'multipart/form-data',
    );
  });

  it('names the scope of every route but /healthz, with a 403 for a token that lacks it', () => {
    const doc = createOpenApiDocument(SPEECH_GATEWAY_VERSION) as {
      security: { bearer: string[] }[];
      paths: Record<
        string,
        Record<string, { security?: { bearer?: string[] }[]; responses: Record<string, unknown> }>
      >;
    };
    expect(doc.security).toEqual([{ bearer: ['speech.use'] }]);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (path === '/healthz') {
          expect(op.security).toEqual([]);
          continue;
        }
        expect((op.security ?? doc.security)[0]?.bearer, `${method} ${path}`).toEqual([
          path === '/metrics' ? 'metrics.read' : 'speech.use',
        ]);
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('403');
      }
    }
  });
});
