import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { Logger } from '@datamancy/core';
import type { BackendConfig, ModelConfig } from './config.ts';

/**
 * How a model becomes resident and stops being so. `url`: an always-on server (nothing to
 * do); `process`: spawn a command with the port templated in, wait for its health endpoint,
 * stop with SIGTERM then SIGKILL after the grace period; `container`: start and stop a
 * container through the container engine; `vllm-sleep`: vLLM's `/sleep` and `/wake_up`.
 */
export interface Backend {
  /** The server's root (requests go to `<root>/v1/...`), once loaded. */
  readonly root: string | undefined;
  /** Bearer token the upstream expects, if any. */
  readonly apiKey: string | undefined;
  load(signal: AbortSignal): Promise<void>;
  unload(): Promise<void>;
  /** Stops whatever the backend started (router shutdown). */
  close(): Promise<void>;
}

/** What the container backend needs of a container engine. */
export interface ContainerControl {
  start(name: string): Promise<void>;
  stop(name: string, options: { timeoutS?: number }): Promise<void>;
}

export interface BackendContext {
  logger: Logger;
  env: NodeJS.ProcessEnv;
  containers?: () => ContainerControl;
  /** The process or container went away on its own. */
  onLost: (reason: string) => void;
}

/** `http://host:port/v1/` → `http://host:port` (requests add `/v1/...` themselves). */
export function serverRoot(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** Polls `url` until it answers 2xx; throws when `signal` aborts or `alive()` turns false. */
async function waitHealthy(
  url: string,
  signal: AbortSignal,
  alive: () => string | undefined,
): Promise<void> {
  for (;;) {
    const dead = alive();
    if (dead !== undefined) throw new Error(dead);
    if (signal.aborted) throw new Error(`no healthy answer from ${url}`);
    try {
      const res = await fetch(url, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]),
      });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(100, signal);
  }
}

class UrlBackend implements Backend {
  readonly root: string;
  readonly apiKey: string | undefined;
  constructor(config: Extract<BackendConfig, { kind: 'url' }>, ctx: BackendContext) {
    this.root = serverRoot(config.url);
    this.apiKey = config.apiKeyEnv === undefined ? undefined : ctx.env[config.apiKeyEnv];
  }
  async load(): Promise<void> {
    // always on: nothing to start
  }
  async unload(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The last lines a child wrote, for the error when it dies. */
class Tail {
  #lines: string[] = [];
  push(chunk: Buffer): void {
    this.#lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== ''),
    );
    if (this.#lines.length > 20) this.#lines.splice(0, this.#lines.length - 20);
  }
  text(): string {
    return this.#lines.slice(-5).join(' | ');
  }
}

class ProcessBackend implements Backend {
  root: string | undefined;
  readonly apiKey = undefined;
  #child: ChildProcess | undefined;
  #stopping = false;
  readonly #config: Extract<BackendConfig, { kind: 'process' }>;
  readonly #ctx: BackendContext;
  readonly #model: string;

  constructor(
    config: Extract<BackendConfig, { kind: 'process' }>,
    model: string,
    ctx: BackendContext,
  ) {
    this.#config = config;
    this.#ctx = ctx;
    this.#model = model;
  }

  async load(signal: AbortSignal): Promise<void> {
    const port = await freePort();
    const argv = this.#config.command.map((a) =>
      a.replaceAll('{port}', String(port)).replaceAll('{model}', this.#model),
    );
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('empty command');
    const tail = new Tail();
    let exit: string | undefined;
    this.#stopping = false;
    const child = spawn(file, args, {
      cwd: this.#config.cwd,
      env: { ...this.#ctx.env, ...this.#config.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    child.stdout.on('data', (c: Buffer) => tail.push(c));
    child.stderr.on('data', (c: Buffer) => tail.push(c));
    child.once('error', (err) => {
      exit = `cannot start ${file}: ${err.message}`;
    });
    child.once('exit', (code, sig) => {
      exit = `${file} exited (${sig ?? `code ${String(code)}`})${tail.text() === '' ? '' : `: ${tail.text()}`}`;
      if (this.#child === child) {
        this.#child = undefined;
        this.root = undefined;
        if (!this.#stopping) this.#ctx.onLost(exit);
      }
    });
    this.#ctx.logger.info(
      { model: this.#model, command: argv, pid: child.pid, port },
      'starting model backend',
    );
    try {
      await waitHealthy(
        `http://127.0.0.1:${String(port)}${this.#config.healthPath}`,
        signal,
        () => exit,
      );
    } catch (err) {
      await this.unload();
      throw err;
    }
    this.root = `http://127.0.0.1:${String(port)}`;
  }

  async unload(): Promise<void> {
    const child = this.#child;
    this.root = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      this.#child = undefined;
      return;
    }
    this.#stopping = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const graceful = await Promise.race([
      exited.then(() => true),
      sleep(this.#config.stopGraceS * 1000).then(() => false),
    ]);
    if (!graceful) {
      this.#ctx.logger.warn(
        { model: this.#model, pid: child.pid },
        'model backend ignored SIGTERM: SIGKILL',
      );
      child.kill('SIGKILL');
      await exited;
    }
    this.#child = undefined;
  }

  close(): Promise<void> {
    return this.unload();
  }
}

class ContainerBackend implements Backend {
  root: string | undefined;
  readonly apiKey = undefined;
  readonly #config: Extract<BackendConfig, { kind: 'container' }>;
  readonly #ctx: BackendContext;
  constructor(config: Extract<BackendConfig, { kind: 'container' }>, ctx: BackendContext) {
    this.#config = config;
    this.#ctx = ctx;
  }
  #engine(): ContainerControl {
    if (this.#ctx.containers === undefined) throw new Error('no container engine configured');
    return this.#ctx.containers();
  }
  async load(signal: AbortSignal): Promise<void> {
    await this.#engine().start(this.#config.container);
    const root = serverRoot(this.#config.url);
    await waitHealthy(`${root}${this.#config.healthPath}`, signal, () => undefined);
    this.root = root;
  }
  async unload(): Promise<void> {
    this.root = undefined;
    await this.#engine().stop(this.#config.container, { timeoutS: this.#config.stopGraceS });
  }
  close(): Promise<void> {
    return this.unload();
  }
}

class VllmSleepBackend implements Backend {
  root: string | undefined;
  readonly apiKey = undefined;
  readonly #config: Extract<BackendConfig, { kind: 'vllm-sleep' }>;
  readonly #root: string;
  constructor(config: Extract<BackendConfig, { kind: 'vllm-sleep' }>) {
    this.#config = config;
    this.#root = serverRoot(config.url);
  }
  async #post(path: string, signal?: AbortSignal): Promise<void> {
    const res = await fetch(`${this.#root}${path}`, {
      method: 'POST',
      ...(signal === undefined ? {} : { signal }),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`POST ${path} answered ${String(res.status)}`);
  }
  async load(signal: AbortSignal): Promise<void> {
    await waitHealthy(`${this.#root}${this.#config.healthPath}`, signal, () => undefined);
    const res = await fetch(`${this.#root}/is_sleeping`, { signal });
    const body = (await res.json().catch(() => ({}))) as { is_sleeping?: boolean };
    if (body.is_sleeping === true) await this.#post('/wake_up', signal);
    this.root = this.#root;
  }
  async unload(): Promise<void> {
    this.root = undefined;
    await this.#post(`/sleep?level=${String(this.#config.level)}`);
  }
  async close(): Promise<void> {
    // the server is not ours to stop; leave it awake for whoever comes next
  }
}

export function createBackend(model: ModelConfig, ctx: BackendContext): Backend {
  const b = model.backend;
  switch (b.kind) {
    case 'url':
      return new UrlBackend(b, ctx);
    case 'process':
      return new ProcessBackend(b, model.name, ctx);
    case 'container':
      return new ContainerBackend(b, ctx);
    case 'vllm-sleep':
      return new VllmSleepBackend(b);
  }
}
