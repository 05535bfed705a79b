import Docker from 'dockerode';
import { AppError } from '@datamancy/core';
import { describeEndpoint, type EngineEndpoint } from './endpoint.ts';
import { mapEvent, parseEventTime, toEngineTime, type TimedEvent } from './events.ts';
import { computeStats, demuxLines, mapDetails, mapSummary } from './mapping.ts';
import type {
  ContainerDetails,
  ContainerEngine,
  ContainerEvent,
  ContainerStats,
  ContainerSummary,
  EngineInfo,
  EventsQuery,
  ExecOptions,
  ExecResult,
  LogLine,
  LogsOptions,
  LogsResult,
  NetworkSpec,
  NetworkSummary,
  ResourceUpdate,
} from './types.ts';

type Json = Record<string, unknown>;

/**
 * Podman's file event log stops reading as soon as `until` has passed, so an `until` already in
 * the past yields no events at all (podman#29579, seen on 4.3): ask it for this much beyond now
 * and cut the answer at the real `until` ourselves.
 */
const PODMAN_UNTIL_MARGIN_MS = 1000;

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
  #info: Promise<EngineInfo> | undefined;

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
    const first = components[0]?.Name;
    return {
      kind: 'docker',
      // Podman names its component "Podman Engine"; Docker Engine names its own just "Engine".
      product: typeof first === 'string' && first !== 'Engine' ? first : 'Docker Engine',
      version: typeof version.Version === 'string' ? version.Version : '',
      apiVersion: typeof version.ApiVersion === 'string' ? version.ApiVersion : '',
      endpoint: this.endpoint,
    };
  }

  /** ping(), once: the product decides engine-specific workarounds. */
  #engineInfo(): Promise<EngineInfo> {
    this.#info ??= this.ping().catch((err: unknown) => {
      this.#info = undefined;
      throw err;
    });
    return this.#info;
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

  async events(query: EventsQuery): Promise<ContainerEvent[]> {
    const now = Date.now();
    const sinceMs = parseEventTime(query.since, now);
    const untilMs = query.until === undefined ? now : parseEventTime(query.until, now);
    if (untilMs < sinceMs) {
      throw new AppError('INVALID_ARGUMENTS', 'until is before since', {
        data: { since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString() },
      });
    }
    const podman = /podman/i.test((await this.#engineInfo()).product);
    // Docker compares `until` with each event's nanosecond time, so an event in the `until`
    // millisecond itself would be cut: ask to the end of that millisecond, then cut at ms.
    const askUntil = podman
      ? Math.max(untilMs, Date.now() + PODMAN_UNTIL_MARGIN_MS)
      : Math.floor(untilMs) + 1;
    const filters: Record<string, string[]> = { type: ['container'] };
    if (query.container !== undefined) filters.container = [query.container];
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    const kept: TimedEvent[] = [];
    const trim = (): void => {
      kept.sort((a, b) => a.atMs - b.atMs);
      kept.splice(0, Math.max(0, kept.length - limit));
    };
    await this.#call(async () => {
      const stream = await this.#docker.getEvents({
        since: String(Math.floor(sinceMs / 1000)),
        until: toEngineTime(askUntil),
        filters,
        abortSignal: query.signal,
      } as object);
      let pending = '';
      const take = (line: string): void => {
        if (line.trim() === '') return;
        const timed = mapEvent(JSON.parse(line) as Record<string, unknown>);
        if (timed === undefined) return;
        // Compare at the millisecond the event's time shows, so a range given in those is inclusive.
        const ms = Math.floor(timed.atMs);
        if (ms < sinceMs || ms > untilMs) return;
        kept.push(timed);
        if (kept.length >= 2 * limit + 100) trim();
      };
      for await (const chunk of stream) {
        pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          take(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
        }
      }
      take(pending);
    }, query.container);
    trim();
    return kept.map((t) => t.event);
  }

  async updateResources(
    idOrName: string,
    update: ResourceUpdate,
    signal?: AbortSignal,
  ): Promise<void> {
    const body: Record<string, number> = {};
    if (update.memoryBytes !== undefined) body.Memory = update.memoryBytes;
    if (update.memorySwapBytes !== undefined) body.MemorySwap = update.memorySwapBytes;
    try {
      await this.#docker.getContainer(idOrName).update({ ...body, abortSignal: signal });
    } catch (err) {
      if ((err as EngineFailure).statusCode !== 404) throw this.#fail(err, idOrName);
      // A 404 is a missing container, or an engine without this route (Podman's compatible
      // API has none): inspect tells them apart, throwing NOT_FOUND for the former.
      await this.inspect(idOrName, signal);
      const info = await this.#engineInfo().catch(() => undefined);
      const engine =
        info === undefined ? 'the container engine' : `${info.product} ${info.version}`;
      throw new AppError(
        'UPSTREAM_ERROR',
        `${engine} has no POST /containers/{id}/update in its Docker-compatible API (Podman's lacks it), so resource limits cannot be changed in place; recreate the container with the new limit`,
        { data: { engineStatus: 404, unsupported: 'POST /containers/{id}/update' } },
      );
    }
  }

  // --- deployment (datamancy up/down): containers, networks and images by their API bodies ---

  /** Creates a container from an Engine API create body; returns its id. */
  async createContainer(name: string, body: Record<string, unknown>): Promise<string> {
    const created = await this.#call(() => this.#docker.createContainer({ ...body, name }), name);
    return created.id;
  }

  /** Removes a container (force: a running one too); a missing one is not an error. */
  /** Removes a container; `volumes` removes its anonymous volumes too (named ones stay). */
  async removeContainer(
    idOrName: string,
    options: { force?: boolean; volumes?: boolean } = {},
  ): Promise<void> {
    await this.#call(async () => {
      try {
        await this.#docker
          .getContainer(idOrName)
          .remove({ force: options.force ?? false, v: options.volumes ?? false });
      } catch (err) {
        if ((err as EngineFailure).statusCode !== 404) throw err;
      }
    }, idOrName);
  }

  /** Networks whose labels include every given `key=value`. */
  async listNetworks(labels: Record<string, string> = {}): Promise<NetworkSummary[]> {
    const filters =
      Object.keys(labels).length === 0
        ? {}
        : { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const list = (await this.#call(() =>
      this.#docker.listNetworks({ filters } as object),
    )) as unknown as Json[];
    return list.map((n) => ({
      id: typeof n.Id === 'string' ? n.Id : typeof n.ID === 'string' ? n.ID : '',
      name: typeof n.Name === 'string' ? n.Name : '',
      internal: n.Internal === true,
      labels: (n.Labels ?? {}) as Record<string, string>,
      subnets: ((n.IPAM as { Config?: { Subnet?: string }[] } | undefined)?.Config ?? [])
        .map((c) => c.Subnet ?? '')
        .filter((x) => x !== ''),
    }));
  }

  async createNetwork(spec: NetworkSpec): Promise<void> {
    await this.#call(() =>
      this.#docker.createNetwork({
        Name: spec.name,
        Driver: 'bridge',
        Internal: spec.internal,
        Labels: spec.labels,
        ...(spec.subnet === undefined
          ? {}
          : {
              IPAM: {
                Config: [
                  {
                    Subnet: spec.subnet,
                    ...(spec.ipRange === undefined ? {} : { IPRange: spec.ipRange }),
                  },
                ],
              },
            }),
      }),
    );
  }

  async removeNetwork(name: string): Promise<void> {
    await this.#call(async () => {
      try {
        await this.#docker.getNetwork(name).remove();
      } catch (err) {
        if ((err as EngineFailure).statusCode !== 404) throw err;
      }
    });
  }

  async connectNetwork(
    network: string,
    container: string,
    aliases: string[],
    ipv4Address?: string,
  ): Promise<void> {
    await this.#call(
      () =>
        this.#docker.getNetwork(network).connect({
          Container: container,
          EndpointConfig: {
            Aliases: aliases,
            ...(ipv4Address === undefined ? {} : { IPAMConfig: { IPv4Address: ipv4Address } }),
          },
        }),
      container,
    );
  }

  /** The ID (`sha256:…`) of the image a name stands for now; undefined when there is none. */
  async imageId(image: string): Promise<string | undefined> {
    try {
      return ((await this.#docker.getImage(image).inspect()) as { Id: string }).Id;
    } catch (err) {
      if ((err as EngineFailure).statusCode === 404) return undefined;
      throw this.#fail(err);
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.#docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if ((err as EngineFailure).statusCode === 404) return false;
      throw this.#fail(err);
    }
  }

  /** Pulls an image, reporting the engine's progress lines (status text per layer). */
  async pullImage(
    image: string,
    onProgress: (line: string) => void = () => undefined,
  ): Promise<void> {
    await this.#call(async () => {
      const stream = await this.#docker.pull(image);
      await new Promise<void>((resolve, reject) => {
        this.#docker.modem.followProgress(
          stream,
          (err: Error | null) => (err === null ? resolve() : reject(err)),
          (event: { status?: string; id?: string; error?: string }) => {
            if (event.error !== undefined) reject(new Error(event.error));
            else if (event.status !== undefined)
              onProgress(event.id === undefined ? event.status : `${event.id}: ${event.status}`);
          },
        );
      });
    }, image);
  }

  /**
   * Builds an image from a tar stream of the build context (`POST /build`), reporting the
   * builder's output lines; a failed step rejects with the builder's message.
   */
  async buildImage(
    context: NodeJS.ReadableStream,
    options: { tag: string; target?: string; dockerfile?: string },
    onProgress: (line: string) => void = () => undefined,
  ): Promise<void> {
    await this.#call(async () => {
      const stream = await this.#docker.buildImage(context, {
        t: options.tag,
        ...(options.target === undefined ? {} : { target: options.target }),
        ...(options.dockerfile === undefined ? {} : { dockerfile: options.dockerfile }),
      });
      await new Promise<void>((resolve, reject) => {
        this.#docker.modem.followProgress(
          stream,
          (err: Error | null) => (err === null ? resolve() : reject(err)),
          (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
            if (event.error !== undefined)
              reject(new Error(event.errorDetail?.message ?? event.error));
            else if (event.stream !== undefined) {
              for (const line of event.stream.split('\n')) if (line.trim() !== '') onProgress(line);
            }
          },
        );
      });
    }, options.tag);
  }

  /** Follows a container's output until `signal` aborts, line by line. */
  async followLogs(
    idOrName: string,
    options: { tail?: number; since?: number },
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const stream = (await this.#call(
      () =>
        this.#docker.getContainer(idOrName).logs({
          follow: true,
          stdout: true,
          stderr: true,
          timestamps: false,
          ...(options.tail === undefined ? {} : { tail: options.tail }),
          ...(options.since === undefined ? {} : { since: options.since }),
          abortSignal: signal,
        } as object),
      idOrName,
    )) as unknown as NodeJS.ReadableStream;
    let pending = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        // frames: 8-byte header (stream, 0, 0, 0, size big-endian) then the payload
        while (pending.length >= 8) {
          const size = pending.readUInt32BE(4);
          if (pending.length < 8 + size) break;
          const kind = pending[0] === 2 ? 'stderr' : 'stdout';
          for (const text of pending
            .subarray(8, 8 + size)
            .toString('utf8')
            .split('\n')) {
            if (text !== '') onLine({ stream: kind, text });
          }
          pending = pending.subarray(8 + size);
        }
      });
      stream.on('end', () => resolve());
      stream.on('error', () => resolve());
    });
  }
}
