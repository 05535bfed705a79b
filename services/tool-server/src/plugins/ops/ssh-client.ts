import { StringDecoder } from 'node:string_decoder';
import ssh2, { type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import { AppError } from '@datamancy/plugin-sdk';
import {
  checkHostKey,
  hostKeyAlgorithmsFor,
  knownHostsName,
  type HostKeyVerdict,
  type KnownHostEntry,
} from './known-hosts.ts';

export interface RemoteCommandOptions {
  host: string;
  port: number;
  user: string;
  privateKey: Buffer;
  knownHosts: readonly KnownHostEntry[];
  /** Named in refusals, so an operator knows which file to fix. */
  knownHostsPath: string;
  command: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Kept of stdout and of stderr each. */
  maxOutputBytes: number;
  signal: AbortSignal;
}

export interface StreamOutput {
  text: string;
  bytes: number;
  truncated: boolean;
}

export interface RemoteResult {
  /** null when the command died of a signal or the server sent no status. */
  exitCode: number | null;
  signal: string | null;
  stdout: StreamOutput;
  stderr: StreamOutput;
  hostKeyFingerprint: string;
  connectMs: number;
}

/** Keeps the first `limit` bytes of a stream, counts the rest. */
function createCollector(limit: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  return {
    push(chunk: Buffer): void {
      bytes += chunk.length;
      if (kept >= limit) return;
      const part = chunk.subarray(0, limit - kept);
      chunks.push(part);
      kept += part.length;
    },
    /** Decoded text without a multi-byte character cut in half at the budget. */
    result(): StreamOutput {
      return {
        text: new StringDecoder('utf8').write(Buffer.concat(chunks)),
        bytes,
        truncated: bytes > kept,
      };
    },
  };
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

function hostKeyError(verdict: Exclude<HostKeyVerdict, { ok: true }>, o: RemoteCommandOptions) {
  const name = knownHostsName(o.host, o.port);
  const offered = `${verdict.keyType} ${verdict.fingerprint}`;
  const message =
    verdict.reason === 'host_key_unknown'
      ? `host key of ${name} is not pinned in ${o.knownHostsPath}: the server offered ${offered}; verify it out of band, then add it to that file`
      : verdict.reason === 'host_key_changed'
        ? `HOST KEY CHANGED for ${name}: the server offered ${offered} but ${o.knownHostsPath} pins ${verdict.known.join(', ')}; refusing to connect (a man-in-the-middle, or a reinstalled host: verify before updating the file)`
        : `host key of ${name} (${offered}) is marked @revoked in ${o.knownHostsPath}; refusing to connect`;
  return new AppError('FORBIDDEN', message, {
    data: {
      reason: verdict.reason,
      host: o.host,
      port: o.port,
      fingerprint: verdict.fingerprint,
      keyType: verdict.keyType,
      known: verdict.known,
    },
  });
}

function connectionError(
  err: Error & { level?: string; code?: string },
  o: RemoteCommandOptions,
  verdict: HostKeyVerdict | undefined,
): AppError {
  const where = `${o.user}@${knownHostsName(o.host, o.port)}`;
  const data = (reason: string) => ({ data: { reason, host: o.host, port: o.port } });
  if (verdict !== undefined && !verdict.ok) return hostKeyError(verdict, o);
  switch (err.level) {
    case 'client-authentication':
      return new AppError(
        'UPSTREAM_ERROR',
        `${where} refused our key (SSH authentication failed)`,
        data('auth_failed'),
      );
    case 'client-timeout':
      return new AppError(
        'UPSTREAM_TIMEOUT',
        `no SSH session with ${where} within ${o.connectTimeoutMs} ms`,
        data('connect_timeout'),
      );
    case 'client-socket':
    case 'client-dns':
      return new AppError(
        'UPSTREAM_ERROR',
        `cannot connect to ${where}: ${err.code ?? err.message}`,
        data('connect_failed'),
      );
    default:
      return new AppError('UPSTREAM_ERROR', `SSH to ${where} failed: ${err.message}`, {
        ...data('ssh_error'),
        cause: err,
      });
  }
}

/**
 * Runs one command over SSH with key authentication and a pinned host key. The promise
 * settles once: with the result when the channel closes, or with an AppError on refusal,
 * failure, timeout or abort — which also close the connection. Closing does not stop the
 * remote command (OpenSSH refuses signals to forced-command sessions, and a session without
 * a pty gets no hangup): on our hosts the wrapper's time limit (STACKOPS_TIMEOUT) does.
 */
export function runRemoteCommand(o: RemoteCommandOptions): Promise<RemoteResult> {
  return new Promise((resolve, reject) => {
    if (o.signal.aborted) {
      reject(abortError(o.signal));
      return;
    }
    const client = new ssh2.Client();
    const started = performance.now();
    let verdict: HostKeyVerdict | undefined;
    let commandTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const finish = (outcome: { error: Error } | { result: RemoteResult }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(commandTimer);
      o.signal.removeEventListener('abort', onAbort);
      if ('error' in outcome) {
        client.end();
        setTimeout(() => client.destroy(), 1000).unref();
        reject(outcome.error);
      } else {
        client.end();
        resolve(outcome.result);
      }
    };
    const onAbort = (): void => finish({ error: abortError(o.signal) });
    o.signal.addEventListener('abort', onAbort, { once: true });

    client.on('error', (err) => finish({ error: connectionError(err, o, verdict) }));
    client.on('close', () =>
      finish({
        error: new AppError(
          'UPSTREAM_ERROR',
          `the SSH connection to ${knownHostsName(o.host, o.port)} closed before the command finished`,
          { data: { reason: 'connection_closed', host: o.host, port: o.port } },
        ),
      }),
    );
    let connectMs = 0;
    const onChannel = (err: Error | undefined, stream: ClientChannel): void => {
      if (err !== undefined) {
        finish({ error: connectionError(err, o, verdict) });
        return;
      }
      const stdout = createCollector(o.maxOutputBytes);
      const stderr = createCollector(o.maxOutputBytes);
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      stream.on('data', (chunk: Buffer) => stdout.push(chunk));
      stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      stream.on('exit', (code: number | null, signalName?: string) => {
        exitCode = code;
        exitSignal = signalName ?? null;
      });
      stream.on('close', () =>
        finish({
          result: {
            exitCode,
            signal: exitSignal,
            stdout: stdout.result(),
            stderr: stderr.result(),
            hostKeyFingerprint: verdict?.fingerprint ?? '',
            connectMs,
          },
        }),
      );
      stream.end(); // no stdin: a command that reads it sees end-of-file at once
    };
    client.on('ready', () => {
      connectMs = Math.round(performance.now() - started);
      commandTimer = setTimeout(
        () =>
          finish({
            error: new AppError(
              'UPSTREAM_TIMEOUT',
              `the command did not finish within ${o.commandTimeoutMs} ms; the connection was closed (the host's wrapper bounds how long it may go on)`,
              { data: { reason: 'command_timeout', host: o.host, port: o.port } },
            ),
          }),
        o.commandTimeoutMs,
      );
      try {
        client.exec(o.command, onChannel);
      } catch (err) {
        finish({ error: connectionError(err as Error, o, verdict) }); // the socket went away
      }
    });

    const serverHostKey = hostKeyAlgorithmsFor(o.knownHosts, o.host, o.port);
    const config: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.user,
      privateKey: o.privateKey,
      readyTimeout: o.connectTimeoutMs,
      hostVerifier: (key: Buffer) => {
        verdict = checkHostKey(o.knownHosts, o.host, o.port, key);
        return verdict.ok;
      },
      ...(serverHostKey === undefined
        ? {}
        : { algorithms: { serverHostKey: serverHostKey as ServerHostKeyAlgorithm[] } }),
    };
    try {
      client.connect(config);
    } catch (err) {
      // ssh2 throws synchronously on a key it cannot parse.
      finish({
        error: new AppError('TOOL_FAILED', `cannot use the SSH key: ${(err as Error).message}`, {
          cause: err,
        }),
      });
    }
  });
}
