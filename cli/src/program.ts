import { Command, CommanderError } from 'commander';
import { AppError, ConfigError } from '@datamancy/core';
import { ApiError } from '@datamancy/clients';
import { registerDiscover } from './commands/discover.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerImages } from './commands/images.ts';
import { registerIncidents } from './commands/incidents.ts';
import { registerInit } from './commands/init.ts';
import { registerLifecycle } from './commands/lifecycle.ts';
import { registerOps } from './commands/ops.ts';
import { registerProbe } from './commands/probe.ts';
import { registerRender } from './commands/render.ts';
import { registerServe } from './commands/serve.ts';
import { registerToken } from './commands/token.ts';
import { registerTools } from './commands/tools.ts';
import { UsageError } from './errors.ts';
import { StackError } from './stack-runner/apply.ts';
import { CLI_VERSION } from './version.ts';

export function createProgram(): Command {
  const program = new Command('datamancy')
    .description('Datamancy control plane: watch, diagnose, repair, verify, learn')
    .version(CLI_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServe(program);
  registerTools(program);
  registerToken(program);
  registerOps(program);
  registerDiscover(program);
  registerProbe(program);
  registerIncidents(program);
  registerRender(program);
  registerInit(program);
  registerImages(program);
  registerDoctor(program);
  registerLifecycle(program);
  return program;
}

/** Maps failures to exit codes: 2 for usage/config mistakes, 1 for everything else. */
export async function run(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`datamancy: ${err.message}\n`);
      return 2;
    }
    if (err instanceof StackError) {
      process.stderr.write(`datamancy: ${err.message}\n`);
      return 1;
    }
    if (err instanceof AppError) {
      process.stderr.write(`datamancy: ${err.message}\n`);
      return 1;
    }
    if (err instanceof ApiError) {
      process.stderr.write(`datamancy: ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`datamancy: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
