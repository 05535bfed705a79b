import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';

/** What every benchmark writes about the machine it ran on, and how it updates docs/benchmarks.md. */

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

const HEADER =
  '# Benchmarks\n\nMeasured figures; each section is rewritten by its benchmark script ' +
  '(see the command in each) and notes the machine it ran on.\n';

/**
 * Replaces the section between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` (or
 * appends it), leaving the other benchmarks' sections alone.
 */
export function writeSection(path: string, name: string, body: string): void {
  const startMark = `<!-- bench:${name}:start -->`;
  const endMark = `<!-- bench:${name}:end -->`;
  const section = `${startMark}\n${body.trim()}\n${endMark}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : HEADER;
  const start = current.indexOf(startMark);
  const end = current.indexOf(endMark, start);
  const next =
    start >= 0 && end >= 0
      ? `${current.slice(0, start)}${section}${current.slice(end + endMark.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

/** Prints a benchmark's section and, unless told not to, writes it into docs/benchmarks.md. */
export function publish(
  doc: string,
  name: string,
  body: string,
  write: boolean,
  progress: (line: string) => void,
): void {
  process.stdout.write(`\n${body}\n`);
  if (!write) return;
  writeSection(doc, name, body);
  progress(`wrote ${doc}`);
}

/** Runs a benchmark's main: its number is the exit status; a throw is reported and exits 1. */
export async function runBench(
  main: () => Promise<number>,
  progress: (line: string) => void,
): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (err) {
    progress(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  }
}
