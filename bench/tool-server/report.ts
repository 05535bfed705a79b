import type { LoadStats } from './load.ts';

export interface Row {
  target: string;
  via: string;
  stats: LoadStats;
}

export interface Verdict {
  goal: string;
  pass: boolean;
  detail: string;
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (v: number | undefined): string => (v === undefined ? '–' : `${Math.round(v)}%`);

/** `baseP50Ms`: the in-process handler's p50, for the "added p50" column. */
export function table(rows: readonly Row[], baseP50Ms: number): string {
  const lines = [
    '| Target | Via | c | Requests | Errors | req/s | p50 ms | p99 ms | Added p50 ms | Client CPU | Server CPU |',
    '| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
  ];
  for (const { target, via, stats: s } of rows) {
    const warm = s.warmupErrors > 0 ? ` (+${s.warmupErrors} warm-up)` : '';
    const errors = s.errors + s.warmupErrors > 0 ? `**${s.errors}${warm}**` : '0';
    lines.push(
      `| ${target} | ${via} | ${s.concurrency} | ${int(s.requests)} | ${errors} | ${int(s.rps)} | ` +
        `${ms(s.p50Ms)} | ${ms(s.p99Ms)} | ${ms(s.p50Ms - baseP50Ms)} | ${pct(s.clientCpuPct)} | ` +
        `${pct(s.serverCpuPct)} |`,
    );
  }
  return lines.join('\n');
}

export function verdictLines(verdicts: readonly Verdict[]): string {
  return verdicts.map((v) => `- **${v.pass ? 'PASS' : 'FAIL'}** ${v.goal}: ${v.detail}`).join('\n');
}
