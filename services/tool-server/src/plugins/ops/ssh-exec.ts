import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AppError, toolsFor } from '@datamancy/plugin-sdk';
import { CommandSchema, commandLine } from './command.ts';
import { OPS_LIMITS, type OpsPluginConfig, type OpsTarget } from './config.ts';
import { parseKnownHosts, type KnownHostEntry } from './known-hosts.ts';
import { runRemoteCommand } from './ssh-client.ts';

const tool = toolsFor<OpsPluginConfig>();

/** Exit status and stderr prefix of a refusal by the host's forced-command wrapper. */
const WRAPPER_REFUSED_EXIT = 126;
const WRAPPER_REFUSED_PREFIX = 'stackops: refused';

/** The named target, else the default, else the only one. */
export function resolveTarget(
  config: OpsPluginConfig,
  requested: string | undefined,
): [string, OpsTarget] {
  const names = Object.keys(config.targets);
  const name = requested ?? config.defaultTarget ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined) {
    throw new AppError(
      'INVALID_ARGUMENTS',
      `name a target: several are configured (${names.join(', ')}) and no defaultTarget`,
      { data: { targets: names } },
    );
  }
  const target = config.targets[name];
  if (target === undefined) {
    throw new AppError(
      'INVALID_ARGUMENTS',
      `unknown target "${name}"; configured: ${names.join(', ') || '(none)'}`,
      { data: { targets: names } },
    );
  }
  return [name, target];
}

async function loadPrivateKey(target: OpsTarget, signal: AbortSignal): Promise<Buffer> {
  try {
    return await readFile(target.privateKeyPath, { signal });
  } catch (err) {
    throw new AppError(
      'TOOL_FAILED',
      `cannot read the SSH private key ${target.privateKeyPath} (${(err as NodeJS.ErrnoException).code ?? 'error'}); run "datamancy ops install" or fix privateKeyPath`,
      { cause: err },
    );
  }
}

/** A missing known_hosts pins nothing: every host key is then refused as unknown. */
async function loadKnownHosts(target: OpsTarget, signal: AbortSignal): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(target.knownHostsPath, { encoding: 'utf8', signal }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AppError(
      'TOOL_FAILED',
      `cannot read known_hosts ${target.knownHostsPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: err },
    );
  }
}

export const sshExec = tool({
  name: 'ssh_exec',
  description:
    "Run one allowlisted command on a configured host over SSH, through the host's forced-command wrapper (no shell: plain words only). Returns exitCode, signal, stdout and stderr (each cut to a byte budget, with *Truncated flags). A non-zero exit code is a normal result; exit 126 with refused=true means the host's allowlist refused the command.",
  capabilities: ['host.network.ssh'],
  mutating: true,
  timeoutMs: OPS_LIMITS.toolTimeoutMs,
  maxOutputBytes: OPS_LIMITS.toolMaxOutputBytes,
  input: z.object({
    command: CommandSchema,
    target: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('configured target name; default: the defaultTarget'),
    timeout_ms: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .optional()
      .describe("command deadline in ms, at most the target's commandTimeoutMs"),
  }),
  async handler(ctx, args) {
    const [name, target] = resolveTarget(ctx.config, args.target);
    const command = commandLine(args.command);
    const started = performance.now();
    const [privateKey, knownHosts] = await Promise.all([
      loadPrivateKey(target, ctx.signal),
      loadKnownHosts(target, ctx.signal),
    ]);
    const log = ctx.logger.child({ target: name, host: target.host, port: target.port, command });
    let result;
    try {
      result = await runRemoteCommand({
        host: target.host,
        port: target.port,
        user: target.user,
        privateKey,
        knownHosts,
        knownHostsPath: target.knownHostsPath,
        command,
        connectTimeoutMs: target.connectTimeoutMs,
        commandTimeoutMs: Math.min(args.timeout_ms ?? Infinity, target.commandTimeoutMs),
        maxOutputBytes: target.maxOutputBytes,
        signal: ctx.signal,
      });
    } catch (err) {
      log.warn(
        { code: (err as AppError).code, reason: (err as AppError).data?.reason },
        'ssh_exec failed',
      );
      throw err;
    }
    const refused =
      result.exitCode === WRAPPER_REFUSED_EXIT &&
      result.stderr.text.startsWith(WRAPPER_REFUSED_PREFIX);
    const elapsedMs = Math.round(performance.now() - started);
    log.info({ exitCode: result.exitCode, signal: result.signal, refused, elapsedMs }, 'ssh_exec');
    const notes = (['stdout', 'stderr'] as const)
      .filter((s) => result[s].truncated)
      .map(
        (s) =>
          `${s} truncated: kept the first ${target.maxOutputBytes} of ${result[s].bytes} bytes`,
      );
    return {
      target: name,
      host: target.host,
      port: target.port,
      command,
      exitCode: result.exitCode,
      signal: result.signal,
      refused,
      stdout: result.stdout.text,
      stderr: result.stderr.text,
      stdoutBytes: result.stdout.bytes,
      stderrBytes: result.stderr.bytes,
      stdoutTruncated: result.stdout.truncated,
      stderrTruncated: result.stderr.truncated,
      notes,
      hostKey: result.hostKeyFingerprint,
      elapsedMs,
    };
  },
});
