import { spawn, spawnSync } from 'node:child_process';
import { UsageError } from '../errors.ts';

/**
 * The container engine's own CLI, for what the Engine API cannot do alone: BuildKit builds
 * with secrets (Docker) or Buildah's (Podman), and `import` of a root filesystem tarball. The
 * engine is the one at DOCKER_HOST; nothing else on the machine is touched.
 */
export interface ImageEngine {
  kind: 'docker' | 'podman';
  endpoint: string;
  /** The image's labels, or undefined when there is no such image. */
  labels(tag: string): Promise<Record<string, string> | undefined>;
  /** The image's id, or undefined when there is no such image. */
  id(tag: string): Promise<string | undefined>;
  importTarball(tarball: string, tag: string, changes: readonly string[]): Promise<void>;
  build(request: BuildRequest): Promise<void>;
}

export interface BuildRequest {
  context: string;
  dockerfile: string;
  tag: string;
  target?: string;
  buildArgs: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
  /** Build secrets (`RUN --mount=type=secret,id=…`), never written to a layer. */
  secrets: readonly { id: string; src: string }[];
  /** Every line the build prints. */
  onLine: (line: string) => void;
}

interface Runner {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

function run(
  runner: Runner,
  args: readonly string[],
  onLine?: (line: string) => void,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [bin, ...pre] = runner.argv;
    const child = spawn(bin ?? 'docker', [...pre, ...args], {
      env: runner.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const take = (chunk: Buffer, keep: (s: string) => void): void => {
      const text = chunk.toString('utf8');
      keep(text);
      if (onLine === undefined) return;
      partial += text;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    };
    child.stdout.on('data', (c: Buffer) =>
      take(c, (s) => {
        if (stdout.length < 1_000_000) stdout += s;
      }),
    );
    child.stderr.on('data', (c: Buffer) =>
      take(c, (s) => {
        stderr = (stderr + s).slice(-20_000);
      }),
    );
    child.once('error', reject);
    child.once('close', (code) => {
      if (onLine !== undefined && partial !== '') onLine(partial);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

function buildArgs(request: BuildRequest, kind: 'docker' | 'podman'): string[] {
  return [
    // BuildKit's step-by-step lines rather than a redrawn screen
    ...(kind === 'docker' ? ['--progress', 'plain'] : []),
    '--file',
    request.dockerfile,
    '--tag',
    request.tag,
    ...(request.target === undefined ? [] : ['--target', request.target]),
    ...Object.entries(request.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    ...Object.entries(request.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...request.secrets.flatMap((s) => ['--secret', `id=${s.id},src=${s.src}`]),
    // RUN steps reach the package mirrors the way the host does
    '--network',
    'host',
    request.context,
  ];
}

async function inspectField(
  runner: Runner,
  tag: string,
  format: string,
): Promise<string | undefined> {
  const res = await run(runner, ['image', 'inspect', '--format', format, tag]);
  return res.code === 0 ? res.stdout.trim() : undefined;
}

function common(kind: 'docker' | 'podman', endpoint: string, runner: Runner, builder: Runner) {
  const fail = (what: string, res: { code: number; stderr: string }): never => {
    throw new Error(
      `${what} failed (exit ${String(res.code)}): ${res.stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
  };
  return {
    kind,
    endpoint,
    async labels(tag: string) {
      const json = await inspectField(runner, tag, '{{json .Config.Labels}}');
      if (json === undefined) return undefined;
      return (JSON.parse(json === '' ? 'null' : json) as Record<string, string> | null) ?? {};
    },
    async id(tag: string) {
      return inspectField(runner, tag, '{{.Id}}');
    },
    async importTarball(tarball: string, tag: string, changes: readonly string[]) {
      const res = await run(runner, [
        'import',
        ...changes.flatMap((c) => ['--change', c]),
        tarball,
        tag,
      ]);
      if (res.code !== 0) fail(`import of ${tarball}`, res);
    },
    async build(request: BuildRequest) {
      const res = await run(builder, ['build', ...buildArgs(request, kind)], request.onLine);
      if (res.code !== 0) fail(`build of ${request.tag}`, res);
    },
  } satisfies ImageEngine;
}

/** A docker client that can build with BuildKit: with buildx, or one older than 23. */
function dockerClient(env: NodeJS.ProcessEnv): { argv: string[]; buildx: boolean } {
  const candidates = [env.DATAMANCY_DOCKER_CLI, 'docker', '/usr/bin/docker'].filter(
    (c): c is string => c !== undefined && c !== '',
  );
  const tried: string[] = [];
  for (const bin of candidates) {
    const version = spawnSync(bin, ['version', '--format', '{{.Client.Version}}'], {
      env,
      encoding: 'utf8',
    });
    if (version.error !== undefined) continue;
    const buildx = spawnSync(bin, ['buildx', 'version'], { env, encoding: 'utf8' });
    if (buildx.status === 0) return { argv: [bin], buildx: true };
    const major = Number(/^(\d+)\./.exec(version.stdout.trim())?.[1] ?? NaN);
    if (major < 23) return { argv: [bin], buildx: false };
    tried.push(`${bin} ${version.stdout.trim()} (no buildx)`);
  }
  throw new UsageError(
    tried.length === 0
      ? 'no docker client found: install docker.io (scripts/setup-system.sh)'
      : `no docker client here can build with BuildKit: ${tried.join(', ')}; install docker-buildx, or point DATAMANCY_DOCKER_CLI at Debian's /usr/bin/docker`,
  );
}

/** The CLI for the engine `product` (from its ping) at `endpoint` (DOCKER_HOST's form). */
export function imageEngine(
  product: string,
  endpoint: string,
  env: NodeJS.ProcessEnv = process.env,
): ImageEngine {
  if (/podman/i.test(product)) {
    const probe = spawnSync('podman', ['--version'], { encoding: 'utf8' });
    if (probe.error !== undefined)
      throw new UsageError('the engine is Podman but the podman CLI is not installed');
    const runner = { argv: ['podman', '--remote', '--url', endpoint], env };
    return common('podman', endpoint, runner, runner);
  }
  const client = dockerClient(env);
  const runner = { argv: [...client.argv, '--host', endpoint], env };
  const builder = client.buildx
    ? { argv: [...client.argv, '--host', endpoint, 'buildx'], env }
    : { argv: runner.argv, env: { ...env, DOCKER_BUILDKIT: '1' } };
  return common('docker', endpoint, runner, builder);
}
