/**
 * `npm run bench`: throughput and latency of a trivial tool call (`hash_sha256`), in-process and
 * over HTTP against our tool server and the MCP SDK's reference Streamable HTTP server, each
 * server in its own child process on 127.0.0.1. Writes its section of docs/benchmarks.md.
 *
 * Options: --concurrency 1,32,64  --warmup 500  --requests 20000  --seconds 10  --no-write
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { generateToken } from '@datamancy/core';
import { startServerChild, stopAllChildren, type ServerChild } from './children.ts';
import { inProcessServer } from './inproc.ts';
import {
  httpOp,
  runLoad,
  runSync,
  type HttpTarget,
  type LoadOptions,
  type LoadStats,
  type Op,
} from './load.ts';
import { machine, writeSection } from '../shared/report.ts';
import { table, verdictLines, type Row, type Verdict } from './report.ts';
import {
  BENCH_IDENTITY,
  benchTool,
  isExpectedResult,
  standaloneContext,
  TOOL_ARGS,
  TOOL_NAME,
} from './tool.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const DOC = join(REPO_ROOT, 'docs', 'benchmarks.md');
const HEADLINE_C = 32;

const { values: flags } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1,32,64' },
    warmup: { type: 'string', default: '500' },
    requests: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '10' },
    'no-write': { type: 'boolean', default: false },
  },
});
const concurrencies = flags.concurrency
  .split(',')
  .map((c) => Number(c.trim()))
  .filter((c) => Number.isInteger(c) && c > 0);
const base = {
  warmup: Number(flags.warmup),
  maxRequests: Number(flags.requests),
  maxMs: Number(flags.seconds) * 1000,
};

const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};
const summary = (s: LoadStats): string =>
  `  → ${Math.round(s.rps)} req/s, p50 ${s.p50Ms.toFixed(3)} ms, p99 ${s.p99Ms.toFixed(3)} ms ` +
  `(${s.requests} requests in ${(s.elapsedMs / 1000).toFixed(1)} s, ${s.errors} errors` +
  `${s.warmupErrors > 0 ? ` + ${s.warmupErrors} in warm-up` : ''}` +
  `${s.firstError === undefined ? '' : `; first: ${s.firstError}`})`;

// ---- response checks (every response is parsed and compared with the expected digest) ----

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function checkCallTool(status: number, body: Buffer): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${body.toString('utf8').slice(0, 200)}`;
  const json = parse(body) as { result?: unknown } | undefined;
  return isExpectedResult(json?.result)
    ? undefined
    : `unexpected body ${body.toString('utf8').slice(0, 200)}`;
}

interface McpAnswer {
  id?: unknown;
  result?: { isError?: boolean; content?: { type: string; text?: string }[] };
}

function checkMcp(status: number, body: Buffer): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${body.toString('utf8').slice(0, 200)}`;
  const json = parse(body) as McpAnswer | undefined;
  const text = json?.result?.content?.[0]?.text;
  if (json?.id !== 1 || json.result?.isError === true || text === undefined) {
    return `unexpected body ${body.toString('utf8').slice(0, 200)}`;
  }
  return isExpectedResult(parse(Buffer.from(text))) ? undefined : `wrong result ${text}`;
}

const mcpBody = {
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: TOOL_NAME, arguments: TOOL_ARGS },
};
const mcpHeaders = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
};

// ---- the run ----

async function main(): Promise<number> {
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'datamancy-bench-'));
  const cleanup = async (): Promise<void> => {
    await stopAllChildren();
    rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping the servers`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: Row[] = [];
  try {
    const adminToken = generateToken();
    const oursDir = join(tmp, 'ours');
    mkdirSync(oursDir);
    progress('starting servers (child processes)…');
    const [ours, reference] = await Promise.all([
      startServerChild('ours', join(HERE, 'server-ours.ts'), {
        cwd: REPO_ROOT,
        env: { BENCH_DATA_DIR: oursDir, BENCH_ADMIN_TOKEN: adminToken },
      }),
      startServerChild('mcp-reference', join(HERE, 'server-mcp-reference.ts'), {
        cwd: REPO_ROOT,
      }),
    ]);
    progress(
      `ours at ${ours.url} (pid ${ours.pid}), MCP reference at ${reference.url} (pid ${reference.pid})`,
    );

    // 1. In-process references.
    const tool = benchTool();
    const ctx = standaloneContext();
    const parsedArgs: unknown = tool.input.parse(TOOL_ARGS);
    progress('in-process: tool handler, c=1');
    const handlerStats = runSync(
      () => (isExpectedResult(tool.handler(ctx, parsedArgs)) ? undefined : 'wrong result'),
      { concurrency: 1, ...base },
    );
    progress(summary(handlerStats));
    rows.push({ target: 'in-process', via: 'tool handler (args pre-parsed)', stats: handlerStats });

    const inDir = join(tmp, 'in-process');
    mkdirSync(inDir);
    const local = await inProcessServer(inDir, adminToken);
    let seq = 0;
    const dispatchOp: Op = async () => {
      const { result } = await local.dispatcher.call({
        name: TOOL_NAME,
        args: TOOL_ARGS,
        identity: BENCH_IDENTITY,
        requestId: `bench-${seq++}`,
        channel: 'http',
      });
      return isExpectedResult(result) ? undefined : 'wrong result';
    };
    const fetchBody = JSON.stringify({ name: TOOL_NAME, args: TOOL_ARGS });
    const fetchOp: Op = async () => {
      const res = await local.app.fetch(
        new Request('http://127.0.0.1/call-tool', {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: fetchBody,
        }),
      );
      return checkCallTool(res.status, Buffer.from(await res.arrayBuffer()));
    };
    // In-process rows run at c=1 only: on one thread, more callers only interleave the same work.
    progress('in-process: ToolDispatcher.call, c=1');
    const dispatched = await runLoad(dispatchOp, { concurrency: 1, ...base });
    progress(summary(dispatched));
    rows.push({
      target: 'in-process',
      via: 'ToolDispatcher.call (validation + audit)',
      stats: dispatched,
    });
    progress('in-process: Hono app.fetch POST /call-tool (no socket), c=1');
    const fetched = await runLoad(fetchOp, { concurrency: 1, ...base });
    progress(summary(fetched));
    rows.push({ target: 'in-process', via: 'app.fetch /call-tool (no socket)', stats: fetched });
    await local.store.close();

    // 2./3. Over HTTP, interleaved per concurrency so drift hits every target alike.
    const targets: { name: string; via: string; server: ServerChild; target: HttpTarget }[] = [
      {
        name: 'ours',
        via: 'HTTP POST /call-tool',
        server: ours,
        target: {
          url: ours.url,
          path: '/call-tool',
          headers: {
            authorization: `Bearer ${adminToken}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: { name: TOOL_NAME, args: TOOL_ARGS },
          check: checkCallTool,
        },
      },
      {
        name: 'MCP SDK reference',
        via: 'HTTP POST /mcp tools/call',
        server: reference,
        target: {
          url: reference.url,
          path: '/mcp',
          headers: mcpHeaders,
          body: mcpBody,
          check: checkMcp,
        },
      },
      {
        name: 'ours',
        via: 'HTTP POST /mcp tools/call',
        server: ours,
        target: {
          url: ours.url,
          path: '/mcp',
          headers: { ...mcpHeaders, authorization: `Bearer ${adminToken}` },
          body: mcpBody,
          check: checkMcp,
        },
      },
    ];
    for (const c of concurrencies) {
      for (const t of targets) {
        progress(`${t.name} ${t.via}, c=${c}`);
        const client = httpOp(t.target, c);
        const options: LoadOptions = { concurrency: c, ...base, serverPid: t.server.pid };
        try {
          const stats = await runLoad(client.op, options);
          progress(summary(stats));
          rows.push({ target: t.name, via: t.via, stats });
        } finally {
          client.close();
        }
      }
    }

    // 4. Verdicts.
    const find = (target: string, via: string, c: number): LoadStats | undefined =>
      rows.find((r) => r.target === target && r.via.startsWith(via) && r.stats.concurrency === c)
        ?.stats;
    const oursC1 = find('ours', 'HTTP POST /call-tool', 1);
    const dispatcherC1 = find('in-process', 'ToolDispatcher', 1);
    const oursHead = find('ours', 'HTTP POST /call-tool', HEADLINE_C);
    const refHead = find('MCP SDK reference', 'HTTP', HEADLINE_C);
    const failed = (s: LoadStats): boolean => s.errors + s.warmupErrors > 0;
    const tainted = (...s: (LoadStats | undefined)[]): string =>
      s.some((x) => x !== undefined && failed(x))
        ? ' — INVALID: the runs behind this had errors'
        : '';

    const verdicts: Verdict[] = [];
    const facts: string[] = [];
    if (oursC1 !== undefined) {
      const added = oursC1.p50Ms - handlerStats.p50Ms;
      verdicts.push({
        goal: 'p50 added latency < 1 ms',
        pass: added < 1 && tainted(oursC1, handlerStats) === '',
        detail:
          `${added.toFixed(3)} ms = p50 ours HTTP /call-tool c=1 (${oursC1.p50Ms.toFixed(3)} ms) ` +
          `− p50 in-process handler (${handlerStats.p50Ms.toFixed(3)} ms)${tainted(oursC1, handlerStats)}`,
      });
      if (dispatcherC1 !== undefined) {
        facts.push(
          `HTTP + framework cost over the in-process dispatcher at c=1: ` +
            `${(oursC1.p50Ms - dispatcherC1.p50Ms).toFixed(3)} ms p50.`,
        );
      }
    } else {
      verdicts.push({
        goal: 'p50 added latency < 1 ms',
        pass: false,
        detail: 'not measured (c=1 not run)',
      });
    }
    if (oursHead !== undefined && refHead !== undefined) {
      const ratio = oursHead.rps / refHead.rps;
      verdicts.push({
        goal: `throughput ≥ 2× the MCP SDK reference server at c=${HEADLINE_C}`,
        pass: ratio >= 2 && tainted(oursHead, refHead) === '',
        detail:
          `${ratio.toFixed(2)}× (ours ${Math.round(oursHead.rps)} req/s on /call-tool vs ` +
          `reference ${Math.round(refHead.rps)} req/s on /mcp)${tainted(oursHead, refHead)}`,
      });
    } else {
      verdicts.push({
        goal: `throughput ≥ 2× the MCP SDK reference server at c=${HEADLINE_C}`,
        pass: false,
        detail: `not measured (c=${HEADLINE_C} not run)`,
      });
    }
    for (const c of concurrencies) {
      const o = find('ours', 'HTTP POST /call-tool', c);
      const om = find('ours', 'HTTP POST /mcp', c);
      const r = find('MCP SDK reference', 'HTTP', c);
      if (o !== undefined && om !== undefined && r !== undefined) {
        facts.push(
          `c=${c}: ours /call-tool ÷ reference = ${(o.rps / r.rps).toFixed(2)}×; ` +
            `ours /mcp ÷ reference (same protocol) = ${(om.rps / r.rps).toFixed(2)}×.`,
        );
      }
    }
    const errorRuns = rows.filter((r) => failed(r.stats));
    const errorLines = errorRuns.map(
      (r) =>
        `- **ERRORS** in ${r.target} ${r.via} c=${r.stats.concurrency}: ${r.stats.errors} of ` +
        `${r.stats.requests} measured requests, ${r.stats.warmupErrors} in warm-up ` +
        `(first: ${r.stats.firstError ?? '?'})`,
    );
    const clientBound = rows.filter(
      (r) => r.stats.serverCpuPct !== undefined && r.stats.clientCpuPct >= 90,
    );

    // 5. Output.
    const host = machine();
    const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const body = [
      '## Tool server: `POST /call-tool` throughput and latency',
      '',
      `Command: \`npm run bench\` · Date: ${date} · Machine: ${host.text}.`,
      '',
      `Tool: the core plugin's \`${TOOL_NAME}\` with \`${JSON.stringify(TOOL_ARGS)}\`; the MCP ` +
        'reference server registers the same zod schema and handler. Every response is checked ' +
        '(HTTP 200 and the expected digest). Each server runs in its own child process on ' +
        '127.0.0.1; the load generator (node:http, keep-alive agent with maxSockets = c, ' +
        'latency per request by `process.hrtime.bigint()`) runs in the parent. Each run: ' +
        `${base.warmup} warm-up requests, then up to ${base.maxRequests} requests or ` +
        `${base.maxMs / 1000} s, whichever first. Ours: an SQLite audit row (written in one transaction per event-loop turn), bearer auth, metrics ` +
        'and request logging on every call (log level warn). The reference: no auth, no audit, ' +
        "built as the SDK's stateless Streamable HTTP example (new McpServer + transport per " +
        'request, `enableJsonResponse: true`). CPU columns are % of one core over the measured ' +
        'phase (client = this process). In-process rows run in the bench process at c=1 ' +
        '(one thread: more callers would only interleave). "Added p50" is the row\'s p50 minus the in-process ' +
        "handler's p50. Where the server's time goes: `npx tsx bench/tool-server/profile.ts`.",
      '',
      table(rows, handlerStats.p50Ms),
      '',
      ...(errorLines.length > 0 ? [...errorLines, ''] : []),
      'Goals:',
      '',
      verdictLines(verdicts),
      '',
      ...facts.map((f) => `- ${f}`),
      ...(clientBound.length > 0
        ? [
            `- Client CPU ≥ 90% in ${clientBound
              .map((r) => `${r.target} ${r.via} c=${r.stats.concurrency}`)
              .join('; ')}: the load generator shares the ${host.cpus} CPUs ` +
              'with the server, so these throughputs are lower bounds.',
          ]
        : []),
    ].join('\n');

    process.stdout.write(
      `\n${table(rows, handlerStats.p50Ms)}\n\n${errorLines.join('\n')}${errorLines.length > 0 ? '\n\n' : ''}`,
    );
    process.stdout.write(`${verdictLines(verdicts)}\n${facts.map((f) => `- ${f}`).join('\n')}\n`);
    if (!flags['no-write']) {
      writeSection(DOC, 'tool-server', body);
      progress(`wrote ${DOC}`);
    }
    progress(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return errorRuns.length > 0 ? 1 : 0;
  } finally {
    await cleanup();
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(
    `[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  await stopAllChildren();
  process.exitCode = 1;
}
