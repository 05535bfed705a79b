import { z } from 'zod';

/**
 * The command of `ssh_exec`, checked here with the same rules as the host's forced-command
 * wrapper (`stack/ops/stackops-wrapper`), which remains the real boundary: words from a
 * conservative character set, joined by single spaces, no `..`, at most 1024 characters.
 * Anything else is refused before a connection is made.
 */

export const MAX_COMMAND_LENGTH = 1024;
const SAFE_CHARS = 'letters, digits and _ . : = , @ / + -';
const WORD_RE = /^[A-Za-z0-9_.:=,@/+-]+$/;
const LINE_RE = /^[A-Za-z0-9_.:=,@/+ -]+$/;

const noTraversal = (s: string): boolean => !s.includes('..');

const WordSchema = z
  .string()
  .regex(WORD_RE, `an argument may hold only ${SAFE_CHARS}`)
  .refine(noTraversal, 'an argument may not contain ".."');

export const CommandSchema = z
  .union([
    z
      .string()
      .max(MAX_COMMAND_LENGTH)
      .regex(LINE_RE, `a command may hold only spaces and ${SAFE_CHARS}`)
      .refine((s) => s.trim() !== '', 'empty command')
      .refine(noTraversal, 'a command may not contain ".."'),
    z.array(WordSchema).min(1).max(64),
  ])
  .refine((c) => commandLine(c).length <= MAX_COMMAND_LENGTH, {
    message: `the command is longer than ${MAX_COMMAND_LENGTH} characters`,
  })
  .describe(
    `argv as an array (each argument only ${SAFE_CHARS}) or one string of such words separated by spaces; it must match a line of the host's allowlist, e.g. ["docker","restart","grafana"]`,
  );

/** The argv a command stands for: an array as is, a string split on spaces. */
export function toArgv(command: string | readonly string[]): string[] {
  return typeof command === 'string' ? command.split(' ').filter((w) => w !== '') : [...command];
}

/** The text sent as the SSH exec request (the wrapper's SSH_ORIGINAL_COMMAND). */
export function commandLine(command: string | readonly string[]): string {
  return toArgv(command).join(' ');
}
