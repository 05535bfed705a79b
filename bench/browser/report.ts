export interface Run {
  concurrency: number;
  ok: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  p50Ms: number;
  p95Ms: number;
  peakRss: number;
  peakPss: number;
  peakProcesses: number;
  /** CPU seconds of the service and Chromium per screenshot. */
  cpuPerShot: number;
}

export const perMinute = (run: Run): number => (run.ok / run.elapsedMs) * 60_000;
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

export function table(runs: readonly Run[]): string {
  const lines = [
    '| c | Screenshots | Errors | Seconds | Screenshots/min | p50 ms | p95 ms | CPU s/shot | Peak RSS MiB | Peak PSS MiB | Peak processes |',
    '| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
  ];
  for (const r of runs) {
    lines.push(
      `| ${r.concurrency} | ${r.ok} | ${r.errors > 0 ? `**${r.errors}**` : '0'} | ` +
        `${(r.elapsedMs / 1000).toFixed(1)} | ${perMinute(r).toFixed(0)} | ${r.p50Ms.toFixed(0)} | ` +
        `${r.p95Ms.toFixed(0)} | ${r.cpuPerShot.toFixed(2)} | ${mib(r.peakRss)} | ${mib(r.peakPss)} | ${r.peakProcesses} |`,
    );
  }
  return lines.join('\n');
}
