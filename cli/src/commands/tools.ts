import type { Command } from 'commander';
import { addClientOptions, createToolServerClient, type ClientFlags } from './client-flags.ts';
import { UsageError } from '../errors.ts';

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function registerTools(program: Command): void {
  const tools = program.command('tools').description('list and call tool-server tools');

  addClientOptions(tools.command('list').description('tools your token may call'))
    .option('--json', 'print the raw OpenAI function list')
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      const list = await createToolServerClient(flags, process.env).listTools();
      if (flags.json === true) return print({ tools: list });
      const width = Math.max(4, ...list.map((t) => t.function.name.length));
      for (const t of list)
        process.stdout.write(`${t.function.name.padEnd(width)}  ${t.function.description}\n`);
    });

  addClientOptions(
    tools.command('plugins').description('plugins, loaded or skipped and why'),
  ).action(async (flags: ClientFlags) => {
    for (const p of await createToolServerClient(flags, process.env).listPlugins()) {
      process.stdout.write(
        `${p.id} v${p.version}  ${p.loaded ? `loaded: ${p.tools.join(', ')}` : `skipped: ${p.reason ?? ''}`}\n`,
      );
    }
  });

  addClientOptions(
    tools
      .command('call')
      .description('call a tool and print its result as JSON')
      .argument('<name>', 'tool name')
      .option('-a, --args <json>', 'arguments as a JSON object', '{}'),
  ).action(async (name: string, flags: ClientFlags & { args: string }) => {
    let args: unknown;
    try {
      args = JSON.parse(flags.args);
    } catch {
      throw new UsageError(`--args is not valid JSON: ${flags.args}`);
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      throw new UsageError(
        '--args must be a JSON object, e.g. \'{"url":"http://127.0.0.1:8081/healthz"}\'',
      );
    }
    print(
      await createToolServerClient(flags, process.env).callTool(
        name,
        args as Record<string, unknown>,
      ),
    );
  });

  addClientOptions(
    program
      .command('audit')
      .description('recent tool calls from the audit log, newest first')
      .option('--tool <name>', 'only this tool')
      .option('--caller <name>', 'only this caller')
      .option('--outcome <outcome>', 'ok, error, denied, invalid, not_found, timeout, aborted')
      .option('--since <iso>', 'from this time (ISO 8601)')
      .option('-n, --limit <n>', 'how many (1-1000)', '20')
      .option('--json', 'print JSON'),
  ).action(
    async (
      flags: ClientFlags & {
        tool?: string;
        caller?: string;
        outcome?: string;
        since?: string;
        limit: string;
        json?: boolean;
      },
    ) => {
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new UsageError('--limit must be 1-1000');
      const page = await createToolServerClient(flags, process.env).audit({
        ...(flags.tool === undefined ? {} : { tool: flags.tool }),
        ...(flags.caller === undefined ? {} : { caller: flags.caller }),
        ...(flags.outcome === undefined ? {} : { outcome: flags.outcome }),
        ...(flags.since === undefined ? {} : { since: flags.since }),
        limit,
      });
      if (flags.json === true) return print(page);
      for (const e of page.entries) {
        process.stdout.write(
          `${e.ts}  ${e.caller.padEnd(12)} ${e.channel.padEnd(4)} ${e.tool.padEnd(22)} ${e.outcome.padEnd(9)} ${`${e.durationMs.toFixed(1)}ms`.padStart(9)}${e.errorCode === null ? '' : `  ${e.errorCode}`}\n`,
        );
      }
    },
  );
}
