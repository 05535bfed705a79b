import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A lock file between test processes (vitest runs files in parallel): it holds the PID of
 * its holder; a holder that is gone no longer counts. Returns the release.
 */
export async function lockFile(
  path: string,
  what: string,
  waitMs = 20 * 60_000,
): Promise<() => void> {
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(path, { force: true }); // its holder is gone
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: ${path} is held by process ${String(holder)} for too long`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The rendered stack's networks have fixed subnets (172.20–23.0.0/24): one engine at a time
 * on this machine may hold them, so a test that brings up rendered networks takes this lock.
 */
export function lockStackSubnets(): Promise<() => void> {
  return lockFile(join(tmpdir(), 'datamancy-test-stack-subnets.lock'), 'the stack subnets');
}
