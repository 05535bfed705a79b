import type { Command } from 'commander';
import {
  generateToken,
  hashToken,
  IDENTITY_KINDS,
  SCOPES,
  type IdentityKind,
  type Scope,
} from '@datamancy/core';
import { UsageError } from '../errors.ts';

export function registerToken(program: Command): void {
  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('make a new scoped token; prints it once, with the config entry that grants it')
    .requiredOption('--name <name>', 'who will use it, e.g. probe')
    .requiredOption('--scopes <list>', `comma list of: ${SCOPES.join(', ')}`)
    .option(
      '--kind <kind>',
      'person (an operator; may approve repairs with admin) or service (a program; never approves)',
      'person',
    )
    .addHelpText(
      'after',
      '\nScopes: the five tool capabilities; browser.use, models.use, speech.use (using that service);\nprobe.read, metrics.read, audit.read (reading); admin (everything).\nExample: datamancy token create --name litellm --kind service --scopes models.use,speech.use',
    )
    .action((flags: { name: string; scopes: string; kind: string }) => {
      const scopes = flags.scopes
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (scopes.length === 0 || unknown.length > 0) {
        throw new UsageError(
          `unknown scope ${unknown.join(', ') || '(none given)'}; choose from ${SCOPES.join(', ')}`,
        );
      }
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(flags.name))
        throw new UsageError('--name: use letters, digits, . _ -');
      if (!(IDENTITY_KINDS as readonly string[]).includes(flags.kind))
        throw new UsageError(`--kind: choose ${IDENTITY_KINDS.join(' or ')}, not "${flags.kind}"`);
      const kind = flags.kind as IdentityKind;
      const value = generateToken();
      const entry = {
        name: flags.name,
        sha256: hashToken(value).toString('hex'),
        scopes: scopes as Scope[],
        kind,
      };
      process.stdout.write(
        `token: ${value}\n\nAdd this under auth.tokens in datamancy.yaml (only the hash is stored):\n` +
          `  - name: ${entry.name}\n    sha256: '${entry.sha256}'\n    scopes: [${entry.scopes.join(', ')}]\n    kind: ${entry.kind}\n`,
      );
    });
}
