import { z } from 'zod';

/**
 * The exec allowlist: per container (or compose service) name, the argv that may run in it.
 * An entry matches exactly; a last element `"*"` lets any further arguments follow. The tool
 * server's `docker_exec` and the Docker socket proxy both decide with `isExecAllowed`, so a
 * command is allowed by the same rule on both sides of the socket.
 */
export const ExecAllowlistSchema = z.record(
  z.string().min(1),
  z.array(
    // an argument may be empty (`ldapsearch -b ""`); the program may not
    z
      .array(z.string())
      .min(1)
      .refine((argv) => argv[0] !== '', 'the program (the first element) must not be empty'),
  ),
);
export type ExecAllowlist = z.infer<typeof ExecAllowlistSchema>;

/** Whether `argv` matches an entry listed under any of `names`. */
export function isExecAllowed(
  allowlist: Readonly<Record<string, readonly (readonly string[])[]>>,
  names: readonly string[],
  argv: readonly string[],
): boolean {
  const entries = names.flatMap((n) => (Object.hasOwn(allowlist, n) ? (allowlist[n] ?? []) : []));
  return entries.some((entry) => {
    const wildcard = entry[entry.length - 1] === '*';
    const fixed = wildcard ? entry.slice(0, -1) : entry;
    if (wildcard ? argv.length < fixed.length : argv.length !== fixed.length) return false;
    return fixed.every((part, i) => argv[i] === part);
  });
}

/** The names a container is allowlisted under: its own name and its compose service. */
export function execNamesOf(target: {
  name: string;
  compose: { service?: string | undefined };
}): string[] {
  return [target.name, ...(target.compose.service === undefined ? [] : [target.compose.service])];
}
