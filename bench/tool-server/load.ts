import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/** One operation under test: resolves undefined when the answer is right, else why it is not. */
export type Op = () => Promise<string | undefined>;

export interface LoadOptions {
  concurrency: number;
  warmup: number;
  maxRequests: number;
  maxMs: number;
  /** Pid whose CPU time (/proc) is reported alongside, e.g. the server child. */
  serverPid?: number | undefined;
}

export interface LoadStats {
  concurrency: number;
  requests: number;
  /** Wrong or failed answers in the measured phase. */
  errors: number;
  /** Wrong or failed answers during warm-up (not in `requests`). */
  warmupErrors: number;
  firstError: string | undefined;
  elapsedMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this process over the measured phase, % of one core. */
  clientCpuPct: number;
  /** CPU time of `serverPid` over the measured phase, % of one core (undefined in-process). */
  serverCpuPct: number | undefined;
}

const now = (): bigint => process.hrtime.bigint();
const YIELD_NS = 10_000_000n;

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** user+system CPU seconds of a process from /proc/<pid>/stat; undefined when unreadable. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

function clientCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Runs `op` from `concurrency` workers: `warmup` requests first (discarded), then until
 * `maxRequests` have been issued or `maxMs` has passed, whichever comes first.
 */
export async function runLoad(op: Op, options: LoadOptions): Promise<LoadStats> {
  const { concurrency } = options;
  const drive = async (
    count: number,
    deadline: bigint,
    record: (ns: bigint, error: string | undefined) => void,
  ): Promise<void> => {
    let issued = 0;
    const worker = async (): Promise<void> => {
      let lastYield = now();
      for (;;) {
        // In-process ops settle on microtasks alone; let signals and timers in now and then
        // (between requests, never inside a timed one).
        if (now() - lastYield > YIELD_NS) {
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = now();
        }
        if (issued >= count || now() >= deadline) break;
        issued++;
        const t0 = now();
        let error: string | undefined;
        try {
          error = await op();
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        record(now() - t0, error);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };

  let errors = 0;
  let firstError: string | undefined;
  const noteError = (error: string | undefined): void => {
    if (error === undefined) return;
    errors++;
    firstError ??= error;
  };
  const warmupDeadline = now() + BigInt(options.maxMs) * 1_000_000n;
  await drive(options.warmup, warmupDeadline, (_ns, error) => noteError(error));
  const warmupErrors = errors;
  errors = 0;

  const latencies = new Float64Array(options.maxRequests);
  let n = 0;
  const serverCpu0 =
    options.serverPid === undefined ? undefined : processCpuSeconds(options.serverPid);
  const clientCpu0 = clientCpuSeconds();
  const start = now();
  await drive(options.maxRequests, start + BigInt(options.maxMs) * 1_000_000n, (ns, error) => {
    if (n < latencies.length) latencies[n++] = Number(ns) / 1e6;
    noteError(error);
  });
  const elapsedS = Number(now() - start) / 1e9;
  const clientCpu = clientCpuSeconds() - clientCpu0;
  const serverCpu1 =
    options.serverPid === undefined ? undefined : processCpuSeconds(options.serverPid);
  const sorted = latencies.subarray(0, n).sort();
  return {
    concurrency,
    requests: n,
    errors,
    warmupErrors,
    firstError,
    elapsedMs: elapsedS * 1000,
    rps: n / elapsedS,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    clientCpuPct: (clientCpu / elapsedS) * 100,
    serverCpuPct:
      serverCpu0 === undefined || serverCpu1 === undefined
        ? undefined
        : ((serverCpu1 - serverCpu0) / elapsedS) * 100,
  };
}

/** Times a synchronous function back to back on one thread: the in-process floor. */
export function runSync(fn: () => string | undefined, options: LoadOptions): LoadStats {
  let errors = 0;
  let firstError: string | undefined;
  const call = (): void => {
    const error = fn();
    if (error !== undefined) {
      errors++;
      firstError ??= error;
    }
  };
  for (let i = 0; i < options.warmup; i++) call();
  const warmupErrors = errors;
  errors = 0;
  const latencies = new Float64Array(options.maxRequests);
  const deadline = now() + BigInt(options.maxMs) * 1_000_000n;
  const clientCpu0 = clientCpuSeconds();
  const start = now();
  let n = 0;
  while (n < options.maxRequests) {
    const t0 = now();
    call();
    const t1 = now();
    latencies[n++] = Number(t1 - t0) / 1e6;
    if (t1 > deadline) break;
  }
  const elapsedS = Number(now() - start) / 1e9;
  const sorted = latencies.subarray(0, n).sort();
  return {
    concurrency: 1,
    requests: n,
    errors,
    warmupErrors,
    firstError,
    elapsedMs: elapsedS * 1000,
    rps: n / elapsedS,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    clientCpuPct: ((clientCpuSeconds() - clientCpu0) / elapsedS) * 100,
    serverCpuPct: undefined,
  };
}

export interface HttpTarget {
  /** Base URL; only 127.0.0.1 is accepted. */
  url: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  /** Why a response is wrong, or undefined when it is right. */
  check(status: number, body: Buffer): string | undefined;
}

/** A POST op over a keep-alive agent holding at most `concurrency` sockets. */
export function httpOp(target: HttpTarget, concurrency: number): { op: Op; close(): void } {
  const base = new URL(target.url);
  if (base.hostname !== '127.0.0.1') throw new Error(`refusing non-loopback target ${target.url}`);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: concurrency,
    maxFreeSockets: concurrency,
  });
  const body = Buffer.from(JSON.stringify(target.body));
  const options = {
    agent,
    host: '127.0.0.1',
    port: Number(base.port),
    path: target.path,
    method: 'POST',
    headers: { ...target.headers, 'content-length': String(body.length) },
  };
  const op: Op = () =>
    new Promise((resolve) => {
      const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => resolve(`response error: ${err.message}`));
        res.on('end', () => resolve(target.check(res.statusCode ?? 0, Buffer.concat(chunks))));
      });
      req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
      req.on('error', (err) => resolve(`request error: ${err.message}`));
      req.end(body);
    });
  return { op, close: () => agent.destroy() };
}
