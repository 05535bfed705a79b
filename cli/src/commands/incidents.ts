import type { Command } from 'commander';
import type { IncidentInfo } from '@datamancy/clients';
import { UsageError } from '../errors.ts';
import { addClientOptions, createProbeClient, type ClientFlags } from './client-flags.ts';
import { formatTable } from './probe.ts';

const PROBE_URL_HELP = 'probe service URL (default $PROBE_URL or http://127.0.0.1:<probe.port>)';

const when = (ms: number | null): string =>
  ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function proposalId(raw: string): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1)
    throw new UsageError(
      `"${raw}" is not a proposal id (a positive integer; see datamancy incidents)`,
    );
  return id;
}

/** `datamancy incidents`, `approve`, `reject`: the human side of the healing loop. */
export function registerIncidents(program: Command): void {
  addClientOptions(
    program
      .command('incidents')
      .description('incidents and the fixes waiting for approval; with an id, its timeline')
      .argument('[id]', 'an incident id: print its timeline, proposals and actions')
      .option('--status <status>', 'open, resolved or all', 'open')
      .option('--service <name>', 'only this service')
      .option('--json', 'print JSON')
      .addHelpText(
        'after',
        '\nExamples:\n  datamancy incidents\n  datamancy incidents --status all --service grafana\n  datamancy incidents 12',
      ),
    PROBE_URL_HELP,
  ).action(
    async (
      id: string | undefined,
      flags: ClientFlags & { status: string; service?: string; json?: boolean },
    ) => {
      const client = createProbeClient(flags, process.env);
      if (id !== undefined) {
        const n = Number(id);
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`"${id}" is not an incident id`);
        const detail = await client.incident(n);
        if (flags.json === true)
          return void process.stdout.write(`${JSON.stringify(detail, null, 2)}\n`);
        const i = detail.incident;
        process.stdout.write(
          `incident ${i.id}: ${i.service} — ${i.status} (${i.stage})${i.resolution === null ? '' : `: ${i.resolution}`}\n`,
        );
        process.stdout.write(
          `opened ${when(i.openedAt)}, fingerprint ${i.fingerprint} (${i.signature})\n\n`,
        );
        for (const e of detail.timeline)
          process.stdout.write(`${when(e.at)}  ${e.kind.padEnd(18)} ${e.message}\n`);
        if (detail.proposals.length > 0) {
          process.stdout.write(
            `\n${formatTable(
              detail.proposals.map((p) => [
                String(p.id),
                p.action,
                p.safety,
                p.status,
                p.decidedBy ?? '-',
                p.decision,
              ]),
              ['PROPOSAL', 'ACTION', 'SAFETY', 'STATUS', 'BY', 'WHY'],
            )}\n`,
          );
        }
        return;
      }
      if (!['open', 'resolved', 'all'].includes(flags.status))
        throw new UsageError(`--status must be open, resolved or all, not "${flags.status}"`);
      const [{ incidents }, { approvals }] = await Promise.all([
        client.incidents({
          status: flags.status as 'open' | 'resolved' | 'all',
          ...(flags.service === undefined ? {} : { service: flags.service }),
        }),
        client.approvals(),
      ]);
      if (flags.json === true)
        return void process.stdout.write(`${JSON.stringify({ incidents, approvals }, null, 2)}\n`);
      const row = (i: IncidentInfo): string[] => [
        String(i.id),
        i.service,
        i.status,
        i.stage,
        when(i.openedAt),
        i.resolution ?? i.findings.map((f) => f.id).join(', '),
      ];
      process.stdout.write(
        incidents.length === 0
          ? `no ${flags.status === 'all' ? '' : `${flags.status} `}incidents\n`
          : `${formatTable(incidents.map(row), ['ID', 'SERVICE', 'STATUS', 'STAGE', 'OPENED', 'DETAIL'])}\n`,
      );
      if (approvals.length > 0) {
        process.stdout.write(
          `\nWaiting for approval (datamancy approve <proposal> / datamancy reject <proposal> --reason ...):\n`,
        );
        process.stdout.write(
          `${formatTable(
            approvals.map((p) => [
              String(p.id),
              p.service,
              p.action,
              p.safety,
              when(p.expiresAt),
              p.reasoning,
            ]),
            ['PROPOSAL', 'SERVICE', 'ACTION', 'SAFETY', 'EXPIRES', 'WHY'],
          )}\n`,
        );
      }
    },
  );

  addClientOptions(
    program
      .command('approve')
      .description('approve a proposed fix as yourself; it runs and is verified at once')
      .argument('<proposal>', 'proposal id (datamancy incidents lists them)'),
    PROBE_URL_HELP,
  ).action(async (raw: string, flags: ClientFlags) => {
    const { proposal } = await createProbeClient(flags, process.env).approve(proposalId(raw));
    process.stdout.write(
      `proposal ${proposal.id} (${proposal.action} on ${proposal.service}): ${proposal.status}\n`,
    );
    if (proposal.status !== 'verified') process.exitCode = 1;
  });

  addClientOptions(
    program
      .command('reject')
      .description('reject a proposed fix; the incident stays open for a person')
      .argument('<proposal>', 'proposal id')
      .requiredOption('--reason <text>', 'why (kept in the incident timeline)'),
    PROBE_URL_HELP,
  ).action(async (raw: string, flags: ClientFlags & { reason: string }) => {
    const { proposal } = await createProbeClient(flags, process.env).reject(
      proposalId(raw),
      flags.reason,
    );
    process.stdout.write(
      `proposal ${proposal.id} (${proposal.action} on ${proposal.service}): ${proposal.status}\n`,
    );
  });
}
