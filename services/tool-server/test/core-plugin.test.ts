import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { parseJsonPath } from '../src/plugins/core/text-tools.ts';
import { ADMIN, createTestToolServer, postJson } from './helpers.ts';

async function call(name: string, args: Record<string, unknown>) {
  const { app } = await createTestToolServer();
  const res = await app.request('/call-tool', postJson(ADMIN, { name, args }));
  return {
    status: res.status,
    body: (await res.json()) as { result: Record<string, unknown>; error?: { code: string } },
  };
}

describe('core plugin', () => {
  let fixture: FixtureServer;
  beforeAll(async () => {
    fixture = await startHttpFixture((req, res) => {
      if (req.url === '/json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, auth: req.headers.authorization ?? null }));
      } else if (req.url === '/bin') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.from([0, 1, 2, 255]));
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('y'.repeat(5000));
      }
    });
  });
  afterAll(() => fixture.close());

  it('http_get returns status, headers and body, sending the given headers', async () => {
    const { status, body } = await call('http_get', {
      url: `${fixture.url}/json`,
      headers: { authorization: 'Bearer t' },
    });
    expect(status).toBe(200);
    expect(body.result).toMatchObject({ status: 200, encoding: 'utf8', truncated: false });
    expect(JSON.parse(String(body.result.body))).toEqual({ ok: true, auth: 'Bearer t' });
  });

  it('http_get cuts the body at max_bytes and base64-encodes binary bodies', async () => {
    const cut = await call('http_get', { url: `${fixture.url}/text`, max_bytes: 100 });
    expect(cut.body.result).toMatchObject({ bytes: 100, truncated: true });
    const bin = await call('http_get', { url: `${fixture.url}/bin` });
    expect(bin.body.result).toMatchObject({ encoding: 'base64', body: 'AAEC/w==' });
  });

  it('http_get refuses hosts off the allowlist', async () => {
    const { status, body } = await call('http_get', { url: 'http://192.168.1.1/' });
    expect(status).toBe(403);
    expect(body.error?.code).toBe('URL_REFUSED');
  });

  it('tcp_check tells an open port from a closed one', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const open = await call('tcp_check', { host: '127.0.0.1', port });
    expect(open.body.result).toMatchObject({ open: true });
    await new Promise<void>((r) => server.close(() => r()));
    const closed = await call('tcp_check', { host: '127.0.0.1', port });
    expect(closed.body.result).toMatchObject({ open: false, error: 'ECONNREFUSED' });
    const refused = await call('tcp_check', { host: '169.254.169.254', port: 80 });
    expect(refused.status).toBe(403);
  });

  it('text and data utilities compute what they say', async () => {
    expect((await call('normalize_whitespace', { text: '  a \n\t b  ' })).body.result).toEqual({
      text: 'a b',
    });
    const uuids = (await call('uuid_generate', { count: 3 })).body.result.uuids as string[];
    expect(new Set(uuids).size).toBe(3);
    expect(uuids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4/);
    const now = (await call('now_utc_iso', {})).body.result;
    expect(Math.abs(Date.parse(String(now.now)) - Date.now())).toBeLessThan(5000);
    const expected = createHash('sha256')
      .update(Buffer.from([0, 1, 2, 255]))
      .digest('hex');
    expect(
      (await call('hash_sha256', { text: 'AAEC/w==', encoding: 'base64' })).body.result.hex,
    ).toBe(expected);
  });

  it('json_get_path reads dotted paths and JSON pointers from values or strings', async () => {
    const doc = { a: { 'b.c': [10, { d: 'x' }] } };
    expect((await call('json_get_path', { json: doc, path: 'a["b.c"][1].d' })).body.result).toEqual(
      { found: true, value: 'x' },
    );
    expect(
      (await call('json_get_path', { json: JSON.stringify(doc), path: '/a/b.c/0' })).body.result,
    ).toEqual({ found: true, value: 10 });
    expect((await call('json_get_path', { json: doc, path: 'a.zz' })).body.result).toEqual({
      found: false,
      value: null,
    });
    const bad = await call('json_get_path', { json: '{nope', path: 'a' });
    expect(bad.status).toBe(400);
  });

  it('parseJsonPath splits the path syntaxes', () => {
    expect(parseJsonPath('$.a.b[2]')).toEqual(['a', 'b', 2]);
    expect(parseJsonPath('/a~1b/~0c')).toEqual(['a/b', '~c']);
    expect(parseJsonPath('')).toEqual([]);
  });
});
