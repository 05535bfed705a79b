/**
 * Where does our server's time go? Starts the same child as the benchmark under `--cpu-prof`,
 * drives `POST /call-tool` for a while, then prints self time by package/file and the top
 * functions from the V8 CPU profile.
 *
 *   npx tsx bench/tool-server/profile.ts [--concurrency 32] [--seconds 8] [--path /call-tool]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { generateToken } from '@datamancy/core';
import { startServerChild, stopAllChildren } from './children.ts';
import { httpOp, runLoad } from './load.ts';
import { TOOL_ARGS, TOOL_NAME } from './tool.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '8' },
    path: { type: 'string', default: '/call-tool' },
    top: { type: 'string', default: '30' },
  },
});

/** A readable bucket for a script URL: the npm package, our workspace file, or node itself. */
function bucket(url: string): string {
  if (url === '') return '(native / GC / idle)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1] !== undefined) return nm[1];
  if (url.startsWith('node:')) return url;
  const repo = url.indexOf(REPO_ROOT.replace(/\/$/, ''));
  return repo >= 0 ? url.slice(repo + REPO_ROOT.length) : url;
}

function report(profile: CpuProfile, top: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byBucket = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const b = url === '' ? `(${functionName || 'anonymous'})` : bucket(url);
    byBucket.set(b, (byBucket.get(b) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'}  ${bucket(url)}:${lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
  }
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${((us / total) * 100).toFixed(1).padStart(6)}%  ${k}\n`);
    }
  };
  // Inclusive time: every function on a sample's stack (once per stack) gets the sample.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node === undefined || node.callFrame.url === '') continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const key = `${functionName || '(anonymous)'}  ${bucket(url)}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  print('Self time by package / file:', byBucket);
  print('Self time by function:', byFn);
  print('Inclusive time by function (a function and what it calls):', inclusive);
}

const tmp = mkdtempSync(join(tmpdir(), 'datamancy-profile-'));
try {
  const token = generateToken();
  const dataDir = join(tmp, 'data');
  const profDir = join(tmp, 'prof');
  mkdirSync(dataDir);
  const server = await startServerChild('ours', join(HERE, 'server-ours.ts'), {
    cwd: REPO_ROOT,
    env: { BENCH_DATA_DIR: dataDir, BENCH_ADMIN_TOKEN: token },
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir],
  });
  const mcp = flags.path === '/mcp';
  const client = httpOp(
    {
      url: server.url,
      path: flags.path,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
      },
      body: mcp
        ? {
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: TOOL_NAME, arguments: TOOL_ARGS },
          }
        : { name: TOOL_NAME, args: TOOL_ARGS },
      check: (status) => (status === 200 ? undefined : `HTTP ${status}`),
    },
    Number(flags.concurrency),
  );
  const stats = await runLoad(client.op, {
    concurrency: Number(flags.concurrency),
    warmup: 2000,
    maxRequests: 1_000_000,
    maxMs: Number(flags.seconds) * 1000,
    serverPid: server.pid,
  });
  client.close();
  process.stdout.write(
    `${flags.path} c=${flags.concurrency}: ${Math.round(stats.rps)} req/s, p50 ${stats.p50Ms.toFixed(3)} ms, ` +
      `server CPU ${Math.round(stats.serverCpuPct ?? 0)}%, ${stats.errors} errors ` +
      `(the profile also covers start-up and warm-up)\n`,
  );
  await server.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('the child wrote no CPU profile');
  report(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile, Number(flags.top));
} finally {
  await stopAllChildren();
  rmSync(tmp, { recursive: true, force: true });
}
