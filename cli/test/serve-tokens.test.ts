import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { runCli, serveCli, type Served } from './helpers.ts';

/**
 * `datamancy serve` runs every service in one process; they call each other with tokens made
 * for this start, each with only the scopes its calls need, never with the admin token: the
 * browser service sees the probe and the tool server by those tokens' names.
 */

let page: FixtureServer;
let served: Served | undefined;
let dataDir: string;

beforeAll(async () => {
  page = await startHttpFixture((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Wiki</title><h1>Welcome to the wiki</h1>');
  });
  const dir = mkdtempSync(join(tmpdir(), 'dm-serve-tokens-'));
  dataDir = join(dir, 'data');
  const manifest = join(dir, 'manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      services: [
        {
          name: 'wiki',
          checks: [{ kind: 'browser', url: `${page.url}/`, expectText: 'welcome to the wiki' }],
        },
      ],
    }),
  );
  served = await serveCli([], {
    DATAMANCY_DATA_DIR: dataDir,
    SERVICES_MANIFEST_PATH: manifest,
    LOG_LEVEL: 'debug',
  });
}, 60_000);

afterAll(async () => {
  if (served !== undefined && served.child.exitCode === null) {
    served.child.kill('SIGTERM');
    await served.exited;
  }
  await page?.close();
});

/** The names the browser service logged as callers of its page routes. */
function browserCallers(logs: string): Set<string> {
  const callers = new Set<string>();
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { service?: string; path?: string; caller?: string };
    if (entry.service === 'browser' && entry.path !== '/healthz' && entry.caller !== undefined)
      callers.add(entry.caller);
  }
  return callers;
}

/** The browser service's own log lines, to say why a check had no verdict. */
function browserLogs(logs: string): string {
  return logs
    .split('\n')
    .filter((line) => line.includes('"service":"browser"'))
    .slice(-20)
    .join('\n');
}

describe('datamancy serve: least-scope tokens between its services', () => {
  it('names the service tokens it made (never their values) and keeps the admin token out of the logs', () => {
    const logs = served?.logs.join('') ?? '';
    const admin = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
    expect(logs).toContain(
      '"serviceTokens":["serve.probe-to-tool-server","serve.probe-to-browser","serve.tool-server-to-browser"]',
    );
    expect(logs).not.toContain(admin);
    expect(logs).not.toMatch(/dmcy_[\w-]{20,}/);
  });

  it('runs the probe’s browser checks and the tool server’s browser tools, each with its own token', async () => {
    const env = { DATAMANCY_DATA_DIR: dataDir };
    let probed = await runCli(['probe', '--url', served?.probeUrl ?? ''], { env });
    if (probed.stdout.includes('no verdict')) {
      // The browser service had no answer this once (seen once under a loaded CI run); a user
      // would ask again. What it said is kept in the test's output.
      console.warn(
        `first probe had no verdict:\n${probed.stdout}\n${browserLogs(served?.logs.join('') ?? '')}`,
      );
      await new Promise((r) => setTimeout(r, 2000));
      probed = await runCli(['probe', '--url', served?.probeUrl ?? ''], { env });
    }
    expect(
      probed.stdout,
      `${probed.stdout}${probed.stderr}\n${browserLogs(served?.logs.join('') ?? '')}`,
    ).toMatch(/^wiki\s+up\s+pass/m);
    expect(probed.code).toBe(0);
    const called = await runCli(
      [
        'tools',
        'call',
        'browser_dom',
        '--args',
        JSON.stringify({ url: `${page.url}/` }),
        '--url',
        served?.url ?? '',
      ],
      { env },
    );
    expect(called.code, called.stderr).toBe(0);
    expect(JSON.parse(called.stdout)).toMatchObject({
      result: { title: 'Wiki', text: expect.stringContaining('Welcome to the wiki') as unknown },
    });
    const callers = browserCallers(served?.logs.join('') ?? '');
    expect(callers).toEqual(new Set(['serve.probe-to-browser', 'serve.tool-server-to-browser']));
  });
});
