import { readdirSync, readFileSync } from 'node:fs';
import type { z } from 'zod';
import {
  CommonConfigSchema,
  createSilentLogger,
  generateToken,
  TokenRegistry,
  type Logger,
} from '@datamancy/core';
import { BrowserConfigSchema } from '../src/config.ts';
import { startBrowserService } from '../src/main.ts';

export const ADMIN = generateToken();
/** A service token that may use the browser (the probe's, the tool server's). */
export const USER = generateToken();
/** A service token that may read metrics only (Prometheus). */
export const SCRAPER = generateToken();
/** A token with tool capabilities but no browser scope. */
export const OUTSIDER = generateToken();

export type TestConfig = Partial<z.input<typeof BrowserConfigSchema>>;

/** The real service (real Chromium, guard proxy, listener) on 127.0.0.1 and a free port. */
export async function startTestBrowser(
  overrides: TestConfig = {},
  logger?: Logger,
  extraCaFile?: string,
) {
  const common = CommonConfigSchema.parse({});
  const config = BrowserConfigSchema.parse({ host: '127.0.0.1', port: 0, ...overrides });
  const service = await startBrowserService({
    common,
    extraCaFile: extraCaFile ?? '',
    config,
    logger: logger ?? createSilentLogger(),
    tokens: new TokenRegistry(ADMIN, [
      { name: 'probe.browser', token: USER, scopes: ['browser.use'], kind: 'service' },
      { name: 'prometheus', token: SCRAPER, scopes: ['metrics.read'], kind: 'service' },
      { name: 'tools', token: OUTSIDER, scopes: ['host.network.http'], kind: 'service' },
    ]),
  });
  const url = service.server.url;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}, token = ADMIN) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(body),
    });
  const get = (path: string, token = ADMIN) =>
    fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { ...service, url, post, get };
}

export type TestBrowser = Awaited<ReturnType<typeof startTestBrowser>>;

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    ok?: boolean;
    failure?: string;
    status?: number | null;
    finalUrl?: string;
    netError?: string;
    reason?: string;
    blockedUrl?: string;
    image?: string;
    issues?: { path: string; message: string }[];
  };
}

/** PNG files start with these eight bytes. */
export const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function parentOf(pid: string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may hold spaces; the ppid follows the state
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
  } catch {
    return undefined; // the process exited while we looked
  }
}

function cmdlineOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Chromium processes descending from `root` (default: this test process), from /proc. */
export function chromiumProcesses(root = String(process.pid)): string[] {
  const children = new Map<string, string[]>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const found: string[] = [];
  const walk = (pid: string): void => {
    for (const child of children.get(pid) ?? []) {
      if (/chromium|chrome/.test(cmdlineOf(child))) found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

/** The browser process itself: the Chromium child of `root` with no `--type=` switch. */
export function browserPid(root = String(process.pid)): string | undefined {
  return chromiumProcesses(root).find(
    (pid) => parentOf(pid) === root && !cmdlineOf(pid).includes('--type='),
  );
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
