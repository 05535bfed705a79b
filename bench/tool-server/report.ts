import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
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

export const SECTION_START = '<!-- bench:tool-server:start -->';
export const SECTION_END = '<!-- bench:tool-server:end -->';

export interface Machine {
  cpus: string;
  text: string;
}

export function machine(): Machine {
  let cpus = String(availableParallelism());
  try {
    cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // nproc missing: keep Node's count
  }
  let model = 'unknown CPU';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) model = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux
  }
  const memGiB = (totalmem() / 2 ** 30).toFixed(1);
  return {
    cpus,
    text: `${cpus} CPUs (nproc), ${model}, ${memGiB} GiB RAM, Node ${process.version}, Linux ${release()}`,
  };
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

/** Replaces this bench's section of the file (or appends it), leaving other sections alone. */
export function writeSection(path: string, body: string): void {
  const section = `${SECTION_START}\n${body.trim()}\n${SECTION_END}`;
  const header =
    '# Benchmarks\n\nMeasured figures; each section is rewritten by its benchmark script ' +
    '(see the command in each) and notes the machine it ran on.\n';
  const current = existsSync(path) ? readFileSync(path, 'utf8') : header;
  const start = current.indexOf(SECTION_START);
  const end = current.indexOf(SECTION_END, start);
  const next =
    start >= 0 && end >= 0
      ? `${current.slice(0, start)}${section}${current.slice(end + SECTION_END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}
