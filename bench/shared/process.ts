import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * A service in its own process (its standalone entry, under tsx or bundled), and readings of
 * that process and every process under it (Chromium's, for the browser) from /proc.
 */

export interface ServiceChild {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface ServiceProcessOptions {
  /** Arguments to `node`, e.g. `['--import', 'tsx', 'services/browser/src/main.ts']`. */
  args: string[];
  env: Record<string, string>;
  /** Its log line saying it listens, e.g. `browser listening` (the line carries `url`). */
  readyMsg: string;
  name: string;
  timeoutMs?: number;
}

export function startServiceProcess(
  repoRoot: string,
  options: ServiceProcessOptions,
): Promise<ServiceChild> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', ...options.env };
  if (options.env.DATAMANCY_CONFIG === undefined) delete childEnv.DATAMANCY_CONFIG;
  const child = spawn(process.execPath, options.args, {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM'); // services close cleanly on SIGTERM
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the ${options.name} service did not listen within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${options.name} service exited early (code ${code})`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string; level?: string };
      if (entry.msg === options.readyMsg && entry.url !== undefined) {
        clearTimeout(timer);
        resolve({ url: entry.url, pid: child.pid ?? 0, stop });
      } else if (entry.level === 'error' || entry.level === 'warn') {
        process.stderr.write(`[${options.name}] ${line}\n`);
      }
    });
  });
}

function statusField(pid: string, field: string): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line === undefined ? 0 : Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
  } catch {
    return 0; // exited while we looked
  }
}

function pssOf(pid: string): number {
  try {
    const line = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Pss:'));
    return line === undefined ? 0 : Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function parentOf(pid: string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
  } catch {
    return undefined;
  }
}

/** The process and all its descendants. */
export function processTree(root: number): string[] {
  const children = new Map<string, string[]>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const ppid = parentOf(pid);
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out = [String(root)];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i] ?? '') ?? []));
  return out;
}

function cpuTicksOf(pid: string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, and the times of reaped children (exited renderers count in their zygote)
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by the process tree (clock ticks at 100 Hz). */
export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + cpuTicksOf(pid), 0) / 100;
}

export interface MemorySample {
  /** Sum of VmRSS (shared pages counted once per process: an upper bound). */
  rss: number;
  /** Sum of PSS (shared pages split between their users). */
  pss: number;
  processes: number;
}

export function sampleMemory(root: number): MemorySample {
  const tree = processTree(root);
  return {
    rss: tree.reduce((sum, pid) => sum + statusField(pid, 'VmRSS'), 0),
    pss: tree.reduce((sum, pid) => sum + pssOf(pid), 0),
    processes: tree.length,
  };
}
