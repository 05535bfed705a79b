import Docker from 'dockerode';
import { AppError } from '@datamancy/core';
import { describeEndpoint, type EngineEndpoint } from './endpoint.ts';
import { computeStats, demuxLines, mapDetails, mapSummary } from './mapping.ts';
import type {
  ContainerDetails,
  ContainerEngine,
  ContainerStats,
  ContainerSummary,
  EngineInfo,
  ExecOptions,
  ExecResult,
  LogsOptions,
  LogsResult,
} from './types.ts';

type Json = Record<string, unknown>;

interface EngineFailure {
  statusCode?: number;
  code?: string;
  json?: { message?: string };
  message?: string;
}

/**
 * The Docker Engine API through dockerode; Docker and Podman's compatible API alike.
 * Failures become AppErrors: an unreachable engine is 503 naming the endpoint, an unknown
 * container 404, anything else from the engine 502.
 */
export class DockerEngine implements ContainerEngine {
  readonly endpoint: string;
  readonly #docker: Docker;

  constructor(endpoint: EngineEndpoint) {
    this.endpoint = describeEndpoint(endpoint);
    this.#docker =
      endpoint.kind === 'socket'
        ? new Docker({ socketPath: endpoint.socketPath })
        : new Docker({ host: endpoint.host, port: endpoint.port, protocol: endpoint.protocol });
  }

  #fail(err: unknown, target?: string): AppError {
    if (err instanceof AppError) return err;
    const e = err as EngineFailure;
    const detail = e.json?.message ?? e.message ?? String(err);
    if (
      e.code === 'ENOENT' ||
      e.code === 'ECONNREFUSED' ||
      e.code === 'EACCES' ||
      e.code === 'ECONNRESET'
    ) {
      return new AppError(
        'UNAVAILABLE',
        `no container engine reachable at ${this.endpoint} (${e.code}); start Docker or Podman's API service, or set DOCKER_HOST`,
        { data: { endpoint: this.endpoint }, retryAfterS: 10 },
      );
    }
    if (e.statusCode === 404) {
      return new AppError(
        'NOT_FOUND',
        target === undefined ? detail : `no container named ${target}`,
        {
          data: { container: target },
        },
      );
    }
    if (e.statusCode === 409) return new AppError('CONFLICT', detail);
    return new AppError('UPSTREAM_ERROR', `container engine: ${detail}`, {
      data: { engineStatus: e.statusCode },
    });
  }

  async #call<T>(fn: () => Promise<T>, target?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#fail(err, target);
    }
  }

  async ping(): Promise<EngineInfo> {
    const version = (await this.#call(() => this.#docker.version())) as unknown as Json;
    const components = Array.isArray(version.Components) ? (version.Components as Json[]) : [];
    return {
      kind: 'docker',
      product: typeof components[0]?.Name === 'string' ? components[0].Name : 'Docker Engine',
      version: typeof version.Version === 'string' ? version.Version : '',
      apiVersion: typeof version.ApiVersion === 'string' ? version.ApiVersion : '',
      endpoint: this.endpoint,
    };
  }

  async list(options: { all?: boolean; signal?: AbortSignal } = {}): Promise<ContainerSummary[]> {
    const list = await this.#call(() =>
      this.#docker.listContainers({
        all: options.all ?? true,
        abortSignal: options.signal,
      } as object),
    );
    return (list as unknown as Json[]).map(mapSummary).sort((a, b) => a.name.localeCompare(b.name));
  }

  async inspect(idOrName: string, signal?: AbortSignal): Promise<ContainerDetails> {
    const raw = await this.#call(
      () => this.#docker.getContainer(idOrName).inspect({ abortSignal: signal } as object),
      idOrName,
    );
    return mapDetails(raw as unknown as Json);
  }

  async logs(idOrName: string, options: LogsOptions, signal?: AbortSignal): Promise<LogsResult> {
    const buffer = await this.#call(
      () =>
        this.#docker.getContainer(idOrName).logs({
          follow: false,
          stdout: options.stdout ?? true,
          stderr: options.stderr ?? true,
          timestamps: options.timestamps ?? false,
          // Podman 4 returns one line fewer than asked; ask for one more and cut below.
          ...(options.tail === undefined ? {} : { tail: options.tail + 1 }),
          ...(options.since === undefined ? {} : { since: options.since }),
          abortSignal: signal,
        } as Docker.ContainerLogsOptions & { follow: false }),
      idOrName,
    );
    let all = demuxLines(Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer)));
    if (options.tail !== undefined) all = all.slice(Math.max(0, all.length - options.tail));
    // Keep the newest lines that fit the budget: the end of a log is what explains a failure.
    const kept: typeof all = [];
    let bytes = 0;
    for (let i = all.length - 1; i >= 0; i--) {
      const line = all[i]!;
      const size = Buffer.byteLength(line.text) + 1;
      if (bytes + size > options.maxBytes) break;
      bytes += size;
      kept.push(line);
    }
    return { lines: kept.reverse(), bytes, truncated: kept.length < all.length };
  }

  async stats(idOrName: string, signal?: AbortSignal): Promise<ContainerStats> {
    const container = this.#docker.getContainer(idOrName);
    const sample = async (): Promise<Json> =>
      (await this.#call(
        () => container.stats({ stream: false, abortSignal: signal } as { stream: false }),
        idOrName,
      )) as unknown as Json;
    let first = await sample();
    // Some engines answer a one-shot request without a previous CPU sample: take one ourselves.
    const pre = first.precpu_stats as Json | undefined;
    if (pre === undefined || !pre.system_cpu_usage) {
      await new Promise((r) => setTimeout(r, 500));
      const second = await sample();
      first = { ...second, precpu_stats: first.cpu_stats };
    }
    return computeStats(first);
  }

  async start(idOrName: string): Promise<void> {
    await this.#call(async () => {
      try {
        await this.#docker.getContainer(idOrName).start();
      } catch (err) {
        if ((err as EngineFailure).statusCode !== 304) throw err; // already started
      }
    }, idOrName);
  }

  async stop(idOrName: string, options: { timeoutS?: number } = {}): Promise<void> {
    await this.#call(async () => {
      try {
        await this.#docker.getContainer(idOrName).stop({ t: options.timeoutS ?? 10 });
      } catch (err) {
        if ((err as EngineFailure).statusCode !== 304) throw err; // already stopped
      }
    }, idOrName);
  }

  async restart(idOrName: string, options: { timeoutS?: number } = {}): Promise<void> {
    await this.#call(
      () => this.#docker.getContainer(idOrName).restart({ t: options.timeoutS ?? 10 }),
      idOrName,
    );
  }

  async exec(idOrName: string, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const container = this.#docker.getContainer(idOrName);
    const exec = await this.#call(
      () => container.exec({ Cmd: [...argv], AttachStdout: true, AttachStderr: true, Tty: false }),
      idOrName,
    );
    const stream = await this.#call(() => exec.start({ hijack: true, stdin: false }), idOrName);
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const timedOut = await new Promise<boolean>((resolve) => {
      const finish = (timeout: boolean): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(timeout);
      };
      const onAbort = (): void => {
        stream.destroy();
        finish(true);
      };
      const timer = setTimeout(onAbort, options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('data', (chunk: Buffer) => {
        // framing bytes count too; the budget is approximate by 8 bytes a frame
        if (size + chunk.length > options.maxOutputBytes + 8) {
          truncated = true;
          chunks.push(chunk.subarray(0, Math.max(0, options.maxOutputBytes + 8 - size)));
          size = options.maxOutputBytes + 8;
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      stream.once('end', () => finish(false));
      stream.once('close', () => finish(false));
      stream.once('error', () => finish(false));
    });
    const lines = demuxLines(Buffer.concat(chunks));
    const join = (s: 'stdout' | 'stderr'): string =>
      lines
        .filter((l) => l.stream === s)
        .map((l) => l.text)
        .join('\n');
    let exitCode: number | null = null;
    if (!timedOut) {
      const info = (await this.#call(() => exec.inspect(), idOrName)) as unknown as {
        ExitCode?: number | null;
      };
      exitCode = info.ExitCode ?? null;
    }
    return { exitCode, stdout: join('stdout'), stderr: join('stderr'), truncated, timedOut };
  }
}
