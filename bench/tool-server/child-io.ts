/**
 * The child side of the parent/child protocol: one `BENCH_READY {"url":…}` line on stdout once
 * listening, and exit as soon as the parent closes our stdin (or dies, which closes it too).
 */
export const READY_PREFIX = 'BENCH_READY ';

export function announce(url: string): void {
  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ url, pid: process.pid })}\n`);
}

export function exitWithParent(cleanup: () => Promise<void> | void = () => undefined): void {
  let exiting = false;
  const stop = (): void => {
    if (exiting) return;
    exiting = true;
    const timer = setTimeout(() => process.exit(0), 2_000);
    timer.unref();
    void Promise.resolve()
      .then(cleanup)
      .catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`))
      .finally(() => process.exit(0));
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
