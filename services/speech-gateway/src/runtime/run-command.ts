import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs a local program the safe way: an argument array (never a shell), input on stdin, a
 * deadline (SIGKILL), a cap on what it may print, and the caller's abort signal.
 */

export type CommandFailure = 'missing' | 'timeout' | 'output-too-large' | 'failed' | 'aborted';

export class CommandError extends Error {
  readonly kind: CommandFailure;
  readonly command: string;
  readonly exitCode: number | null;
  /** The end of what the program wrote to stderr (for the service log, not for callers). */
  readonly stderr: string;

  constructor(
    kind: CommandFailure,
    command: string,
    message: string,
    detail: { exitCode?: number | null; stderr?: string; cause?: unknown } = {},
  ) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = 'CommandError';
    this.kind = kind;
    this.command = command;
    this.exitCode = detail.exitCode ?? null;
    this.stderr = detail.stderr ?? '';
  }
}

export interface RunCommandOptions {
  command: string;
  args: readonly string[];
  stdin?: Uint8Array | string;
  timeoutMs: number;
  maxStdoutBytes: number;
  /** stderr beyond this is dropped (kept from the end), not an error. */
  maxStderrBytes?: number;
  signal?: AbortSignal;
  cwd?: string;
}

export interface CommandResult {
  stdout: Buffer;
  stderr: string;
  durationMs: number;
}

export function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  const { command } = options;
  const maxStderr = options.maxStderrBytes ?? 64 * 1024;
  const started = performance.now();
  return new Promise<CommandResult>((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(new CommandError('aborted', command, `${command} was not started: request aborted`));
      return;
    }
    const child = spawn(command, [...options.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: options.cwd,
      windowsHide: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let settled = false;
    // Settles once the process is gone (or never started), so a caller's cleanup (removing the
    // temporary directory) runs after the program stopped writing into it.
    const gone = new Promise<void>((done) => {
      child.once('close', () => done());
      child.once('error', () => done());
      setTimeout(done, 2_000).unref();
    });

    const finish = (err: CommandError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) {
        resolve({
          stdout: Buffer.concat(stdout),
          stderr,
          durationMs: Math.round(performance.now() - started),
        });
      } else {
        child.kill('SIGKILL');
        void gone.then(() => reject(err));
      }
    };
    const timer = setTimeout(() => {
      finish(
        new CommandError('timeout', command, `${command} ran past ${options.timeoutMs} ms`, {
          stderr,
        }),
      );
    }, options.timeoutMs);
    const onAbort = (): void => {
      finish(new CommandError('aborted', command, `${command} stopped: request aborted`));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err: NodeJS.ErrnoException) => {
      const missing = err.code === 'ENOENT';
      finish(
        new CommandError(
          missing ? 'missing' : 'failed',
          command,
          missing
            ? `${command} is not installed (not found on PATH)`
            : `${command}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > options.maxStdoutBytes) {
        finish(
          new CommandError(
            'output-too-large',
            command,
            `${command} wrote more than ${options.maxStdoutBytes} bytes`,
          ),
        );
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-maxStderr);
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        finish(undefined);
        return;
      }
      const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${code}`;
      finish(new CommandError('failed', command, `${command} ${how}`, { exitCode: code, stderr }));
    });
    // A program that exits without reading all of stdin makes the write fail with EPIPE; its
    // exit status (reported on 'close') is what counts.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') {
        finish(new CommandError('failed', command, `${command} stdin: ${err.message}`));
      }
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** Runs `work` with a fresh private (0700) temporary directory, removed afterwards. */
export async function withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'datamancy-speech-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
