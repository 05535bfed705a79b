import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RunningServer } from '@datamancy/core';
import type { AuditLog } from '../src/audit/audit-log.ts';
import { ADMIN, bearer, listenTestToolServer, READER } from './helpers.ts';

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: bearer(token) },
    }),
  );
  return client;
}

describe('/mcp with the official MCP SDK client', () => {
  let server: RunningServer;
  let audit: AuditLog;
  beforeAll(async () => {
    ({ server, audit } = await listenTestToolServer());
  });
  afterAll(() => server.close());

  it("lists the caller's tools with their input schemas", async () => {
    const client = await connect(server.url, READER);
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('http_get');
    expect(names).not.toContain('restart_thing');
    expect(tools.find((t) => t.name === 'hash_sha256')?.inputSchema).toMatchObject({
      type: 'object',
      required: ['text'],
    });
    await client.close();
  });

  it('calls a tool and returns its result as text and structured content', async () => {
    const client = await connect(server.url, READER);
    const result = await client.callTool({ name: 'hash_sha256', arguments: { text: 'abc' } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({
      hex: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
    const content = result.content as { type: string; text: string }[];
    expect(JSON.parse(content[0]!.text)).toEqual(result.structuredContent);
    await client.close();
    const entries = await audit.query({ tool: 'hash_sha256', limit: 1 });
    expect(entries[0]).toMatchObject({ channel: 'mcp', caller: 'reader', outcome: 'ok' });
  });

  it('applies the same capability check: a read token cannot call a mutating tool', async () => {
    const client = await connect(server.url, READER);
    const result = await client.callTool({ name: 'restart_thing', arguments: { name: 'x' } });
    expect(result.isError).toBe(true);
    const content = result.content as { text: string }[];
    expect(JSON.parse(content[0]!.text)).toMatchObject({
      error: { code: 'CAPABILITY_DENIED', missing: ['host.docker.write'] },
    });
    await client.close();
  });

  it('reports invalid arguments with their path and unknown tools as protocol errors', async () => {
    const client = await connect(server.url, ADMIN);
    const invalid = await client.callTool({ name: 'whoami', arguments: { n: 'many' } });
    expect(invalid.isError).toBe(true);
    expect((invalid.content as { text: string }[])[0]!.text).toContain('args.n');
    await expect(client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow(
      /no tool named/,
    );
    await client.close();
  });

  it('refuses clients without a valid token', async () => {
    await expect(connect(server.url, 'dmcy_wrong-token-xxxxxxxxxxxxxxxxxxxxx')).rejects.toThrow();
    const res = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
  });
});
