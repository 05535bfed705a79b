import type { Command } from 'commander';
import type { RoundReportInfo } from '@datamancy/clients';
import { UsageError } from '../errors.ts';
import { addClientOptions, createProbeClient, type ClientFlags } from './client-flags.ts';

/** Exit status when every round ran but some service is not up (distinct from errors). */
export const EXIT_UNHEALTHY = 3;

interface ProbeFlags extends ClientFlags {
  json?: boolean;
  concurrency: string;
}

/**
 * Healthy now: in maintenance, or up with this round passing. A failing round of an up
 * service (below its failure threshold) is not healthy here, though the probe has not
 * changed its state yet.
 */
function healthy(r: RoundReportInfo): boolean {
  if (r.state === 'maintenance') return true;
  return r.state === 'up' && r.outcome !== 'fail' && r.outcome !== 'degraded';
}

export function reportRow(r: RoundReportInfo): string[] {
  // A check with no verdict (its helper was down or busy) says why, or a pending row is mute.
  const failing = r.checks.filter(
    (c) => c.status === 'fail' || c.status === 'degraded' || c.status === 'unknown',
  );
  const slowest = r.checks.reduce((max, c) => Math.max(max, c.latencyMs), 0);
  const detail =
    r.blockedBy !== null
      ? `blocked by ${r.blockedBy}`
      : failing.length > 0
        ? failing
            .map((c) => `${c.check}: ${c.status === 'unknown' ? 'no verdict: ' : ''}${c.message}`)
            .join('; ')
        : r.outcome === 'pass_after_retry'
          ? 'passed after retry'
          : '';
  return [
    r.name,
    r.state + (r.flapping ? ' (flapping)' : ''),
    r.outcome ?? '-',
    `${Math.round(slowest)} ms`,
    detail,
  ];
}

export function formatTable(rows: string[][], header: string[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function registerProbe(program: Command): void {
  addClientOptions(
    program
      .command('probe')
      .description('probe services now (through the probe service) and print a table')
      .argument('[services...]', 'service names; default every service in the manifest')
      .option('--json', 'print the round reports as JSON')
      .option('--concurrency <n>', 'services probed at once', '8')
      .addHelpText(
        'after',
        `
Progress goes to stderr, the table (or --json) to stdout.
Exit status: 0 every service up with a passing round (or in maintenance), ${EXIT_UNHEALTHY} some
service is not, 1 error, 2 usage. STATE is the probe's verdict (it waits for its failure
threshold before calling a service down); OUTCOME is this round's.

Examples:
  datamancy probe                   # every service
  datamancy probe grafana outline   # just these
  datamancy probe --json | jq '.[] | select(.state != "up")'`,
      ),
    'probe service URL (default $PROBE_URL or http://127.0.0.1:<probe.port>)',
  ).action(async (names: string[], flags: ProbeFlags) => {
    const concurrency = Number(flags.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new UsageError(
        `--concurrency must be an integer from 1 to 64, not "${flags.concurrency}"`,
      );
    }
    const client = createProbeClient(flags, process.env);
    const known = (await client.services()).services.map((s) => s.name);
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length > 0) {
      throw new UsageError(
        `unknown service(s): ${unknown.join(', ')}; the manifest has ${known.join(', ') || 'none'}`,
      );
    }
    const wanted = names.length > 0 ? names : known;
    const reports: RoundReportInfo[] = [];
    let next = 0;
    let done = 0;
    const tty = process.stderr.isTTY;
    const lane = async (): Promise<void> => {
      while (next < wanted.length) {
        const name = wanted[next++] ?? '';
        const report = await client.probeService(name);
        reports.push(report);
        done += 1;
        const text = `[${done}/${wanted.length}] ${name}: ${report.state}`;
        process.stderr.write(tty ? `\r\x1b[2K${text}` : `${text}\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, wanted.length) }, lane));
    if (tty && wanted.length > 0) process.stderr.write('\n');
    const ordered = wanted
      .map((n) => reports.find((r) => r.name === n))
      .filter((r): r is RoundReportInfo => r !== undefined);
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify(ordered, null, 2)}\n`);
    } else {
      process.stdout.write(
        `${formatTable(ordered.map(reportRow), ['SERVICE', 'STATE', 'OUTCOME', 'LATENCY', 'DETAIL'])}\n`,
      );
      const bad = ordered.filter((r) => !healthy(r)).length;
      process.stdout.write(`\n${ordered.length - bad} of ${ordered.length} healthy\n`);
    }
    if (ordered.some((r) => !healthy(r))) process.exitCode = EXIT_UNHEALTHY;
  });
}
