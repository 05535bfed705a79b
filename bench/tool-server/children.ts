import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { READY_PREFIX } from './child-io.ts';

export interface ServerChild {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Running children and how to stop each. */
const live = new Map<ChildProcess, () => Promise<void>>();

/** Last resort: whatever is still running when this process exits gets SIGKILL. */
process.on('exit', () => {
  for (const child of live.keys()) child.kill('SIGKILL');
});

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Starts `node --import tsx <script>` (its own process and event loop) and waits for its
 * `BENCH_READY` line. Its other output goes to our stderr, prefixed with `name`. Closing its
 * stdin asks it to exit; SIGKILL follows after 3 s.
 */
export function startServerChild(
  name: string,
  script: string,
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number; nodeArgs?: string[] },
): Promise<ServerChild> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    stopping = true;
    if (hasExited(child)) return;
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };
  live.set(child, stop);
  child.once('exit', () => live.delete(child));

  createInterface({ input: child.stderr }).on('line', (line) => {
    process.stderr.write(`[${name}] ${line}\n`);
  });

  return new Promise<ServerChild>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not report ready within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${name} exited before ready (code ${code}, signal ${signal})`));
      else if (!stopping) {
        process.stderr.write(`[${name}] exited unexpectedly (code ${code}, signal ${signal})\n`);
      }
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!ready && line.startsWith(READY_PREFIX)) {
        ready = true;
        clearTimeout(timer);
        const info = JSON.parse(line.slice(READY_PREFIX.length)) as { url: string; pid: number };
        resolve({ name, url: info.url, pid: info.pid, stop });
        return;
      }
      process.stderr.write(`[${name}] ${line}\n`);
    });
  });
}

/** Stops every child still running (normal end, error or signal). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live.values()].map((stop) => stop()));
}
