import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { waitForHealthy, type DockerEngine } from '@datamancy/container-engine';
import {
  HASH_LABEL,
  PHASE_LABEL,
  PROJECT_LABEL,
  phases,
  type PlannedService,
  type StackPlan,
} from './plan.ts';

/**
 * Applying a plan to an engine: data directories with their owners, images, networks, then
 * the services phase by phase (DESIGN's startup order), each started once its dependencies are
 * healthy and waited for (the engine's health, or the container's own healthcheck run through
 * exec where the engine runs none, as Podman without systemd). `down` undoes it.
 */

export interface Reporter {
  /** A line of progress (stderr). */
  line(text: string): void;
}

export class StackError extends Error {
  override name = 'StackError';
}

export interface DirectoryOutcome {
  path: string;
  owner: string;
  action: 'created' | 'kept' | 'owner set';
}

/** Numeric `uid[:gid]` of a service's user, when it has one. */
function numericUser(service: PlannedService): { uid: number; gid: number } | undefined {
  const user = service.body.User;
  const m = typeof user === 'string' ? /^(\d+)(?::(\d+))?$/.exec(user) : null;
  if (m === null) return undefined;
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
  }
}

/**
 * Creates each data directory (bind mounts under STACK_DATA_DIR) and gives it, and each
 * mounted secrets directory, to the user its service runs as. Directories of services
 * without a numeric user are left to their image's entrypoint (root).
 */
export function ensureDirectories(
  services: readonly PlannedService[],
  stackDir: string,
): DirectoryOutcome[] {
  const out = new Map<string, DirectoryOutcome>();
  for (const service of services) {
    const user = numericUser(service);
    for (const bind of service.binds) {
      // a mounted secrets directory, or the one inside a mounted directory (./ldap/secrets)
      const inside = join(bind.source, 'secrets');
      const secretsDir = /(^|\/)secrets(\/|$)/.test(relative(stackDir, bind.source))
        ? bind.source
        : existsSync(inside) && statSync(inside).isDirectory()
          ? inside
          : undefined;
      if (!bind.dataDir && secretsDir === undefined) continue;
      const path = secretsDir ?? bind.source;
      const secrets = secretsDir !== undefined;
      const existed = existsSync(path);
      if (!existed) {
        if (!bind.dataDir) continue; // a secrets dir init has not written: reported by up
        mkdirSync(path, { recursive: true, mode: 0o750 });
      }
      let action: DirectoryOutcome['action'] = existed ? 'kept' : 'created';
      let owner = 'root (image decides)';
      if (user !== undefined) {
        owner = `${String(user.uid)}:${String(user.gid)}`;
        const st = statSync(path);
        if (st.uid !== user.uid || st.gid !== user.gid || secrets) {
          try {
            chownTree(path, user.uid, user.gid);
          } catch (err) {
            throw new StackError(
              `cannot give ${path} to ${owner} (${(err as NodeJS.ErrnoException).code ?? String(err)}): run as root, or chown -R ${owner} ${path}`,
            );
          }
          if (existed && st.uid !== user.uid) action = 'owner set';
        }
      }
      out.set(path, { path, owner, action });
    }
  }
  return [...out.values()].sort((a, b) => a.path.localeCompare(b.path));
}

export interface UpOptions {
  timeoutMs: number;
  pull: 'missing' | 'never';
  stackDir: string;
  /** Build missing `datamancy/<stage>` images from the Dockerfile beside the stack dir. */
  build: boolean;
  /** Said after the list of missing images when they are not pulled (how to make them). */
  missingHint?: string;
}

export interface BuildRecipe {
  contextDir: string;
  dockerfile: string;
  target: string;
}

/**
 * Our own images are built, not pulled: `datamancy/<name>:<tag>` comes from the stage `<name>`
 * of the Dockerfile in the directory above the stack (the repository's root).
 */
export function buildRecipe(image: string, stackDir: string): BuildRecipe | undefined {
  const name = /^datamancy\/([a-z0-9-]+):/.exec(image)?.[1];
  if (name === undefined) return undefined;
  const contextDir = resolve(stackDir, '..');
  const dockerfile = join(contextDir, 'Dockerfile');
  if (!existsSync(dockerfile)) return undefined;
  const stages = [...readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map(
    (m) => m[1],
  );
  return stages.includes(name) ? { contextDir, dockerfile: 'Dockerfile', target: name } : undefined;
}

/**
 * The build context as a tar stream: the files git knows (tracked, or untracked and not
 * ignored), so dependencies, build output, data and secrets (all git-ignored) stay out.
 */
function contextTar(dir: string): NodeJS.ReadableStream {
  const list = spawnSync(
    'git',
    ['-C', dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (list.status !== 0)
    throw new StackError(
      `cannot list the build context ${dir} (not a git checkout?): build the images with docker build`,
    );
  const existing = list.stdout
    .toString('utf8')
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(dir, f)));
  const tar = spawn('tar', ['--null', '-C', dir, '-T', '-', '-cf', '-'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  tar.stdin.end(existing.join('\0'));
  return tar.stdout;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function lastLogs(engine: DockerEngine, container: string): Promise<string> {
  try {
    const logs = await engine.logs(container, { tail: 20, maxBytes: 8192 });
    return logs.lines.map((l) => `    | ${l.text}`).join('\n');
  } catch {
    return '    | (no logs)';
  }
}

async function ensureImages(
  engine: DockerEngine,
  services: readonly PlannedService[],
  options: UpOptions,
  report: Reporter,
): Promise<void> {
  const images = [...new Set(services.map((s) => s.image))].sort();
  const missing: string[] = [];
  for (const image of images) if (!(await engine.imageExists(image))) missing.push(image);
  if (missing.length === 0) return;
  const toBuild = options.build
    ? missing.flatMap((image) => {
        const recipe = buildRecipe(image, options.stackDir);
        return recipe === undefined ? [] : [{ image, recipe }];
      })
    : [];
  for (const { image, recipe } of toBuild) {
    report.line(
      `building ${image} (stage ${recipe.target} of ${join(recipe.contextDir, recipe.dockerfile)})`,
    );
    let last = 0;
    await engine.buildImage(
      contextTar(recipe.contextDir),
      { tag: image, target: recipe.target, dockerfile: recipe.dockerfile },
      (line) => {
        if (/^(STEP|Step) /.test(line) || Date.now() - last > 5000) {
          last = Date.now();
          report.line(`  ${line}`);
        }
      },
    );
  }
  const toPull = missing.filter((image) => !toBuild.some((b) => b.image === image));
  if (toPull.length === 0) return;
  if (options.pull === 'never')
    throw new StackError(
      `images not present (and --pull never): ${toPull.join(', ')}${options.missingHint === undefined ? '' : `; ${options.missingHint}`}`,
    );
  for (const [i, image] of toPull.entries()) {
    report.line(`pulling ${image} (${String(i + 1)}/${String(toPull.length)})`);
    let last = 0;
    await engine.pullImage(image, (progress) => {
      if (Date.now() - last > 2000) {
        last = Date.now();
        report.line(`  ${progress}`);
      }
    });
  }
}

async function ensureNetworks(
  engine: DockerEngine,
  plan: StackPlan,
  services: readonly PlannedService[],
  report: Reporter,
): Promise<void> {
  const wanted = new Set(services.flatMap((s) => s.networks));
  const existing = new Map(
    (await engine.listNetworks({ [PROJECT_LABEL]: plan.project })).map((n) => [n.name, n]),
  );
  const created: string[] = [];
  for (const spec of plan.networks.filter((n) => wanted.has(n.name))) {
    const have = existing.get(spec.name);
    if (have === undefined) {
      await engine.createNetwork(spec);
      created.push(spec.name);
    } else if (
      // (the engine's summary has no ip_range to compare; a changed range needs down and up too)
      have.internal !== spec.internal ||
      (spec.subnet !== undefined && !have.subnets.includes(spec.subnet))
    ) {
      report.line(
        `warning: network ${spec.name} differs from the compose file (run datamancy down, then up, to recreate it)`,
      );
    }
  }
  report.line(
    `networks: ${[...wanted].sort().join(', ')}${created.length > 0 ? ` (created ${created.join(', ')})` : ''}`,
  );
}

type Action = 'created' | 'recreated' | 'started' | 'running';

async function startService(
  engine: DockerEngine,
  plan: StackPlan,
  service: PlannedService,
): Promise<Action> {
  let action: Action = 'created';
  const current = await engine.inspect(service.container).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'NOT_FOUND') return undefined;
    throw err;
  });
  if (current !== undefined) {
    if (current.labels[PROJECT_LABEL] !== plan.project)
      throw new StackError(
        `a container named ${service.container} exists outside project ${plan.project}; rename or remove it`,
      );
    // the same settings on an image rebuilt under the same tag count as a change, as in compose
    const image = await engine.imageId(service.image);
    const sameImage = image === undefined || current.raw.Image === image;
    if (current.labels[HASH_LABEL] === service.hash && sameImage) {
      if (current.state === 'running') return 'running';
      await engine.start(service.container);
      return 'started';
    }
    await engine.stop(service.container, { timeoutS: 10 });
    await engine.removeContainer(service.container, { force: true });
    action = 'recreated';
  }
  await engine.createContainer(service.container, service.body);
  for (const network of service.networks.slice(1))
    await engine.connectNetwork(
      network,
      service.container,
      [service.name, ...(service.aliases[network] ?? [])],
      service.addresses[network],
    );
  await engine.start(service.container);
  return action;
}

/** Brings the services up in phase order; throws StackError naming the service that failed. */
export async function up(
  engine: DockerEngine,
  plan: StackPlan,
  services: readonly PlannedService[],
  options: UpOptions,
  report: Reporter,
): Promise<{ elapsedMs: number; actions: Record<string, Action> }> {
  const started = Date.now();
  const selected = new Set(services.map((s) => s.name));
  for (const s of services) {
    for (const d of s.dependsOn) {
      if (!selected.has(d.service))
        throw new StackError(
          `${s.name} depends on ${d.service}, which the chosen profiles leave out`,
        );
    }
    for (const b of s.binds) {
      if (!b.dataDir && !existsSync(b.source))
        throw new StackError(
          `${s.name} mounts ${b.source}, which does not exist (run datamancy init)`,
        );
    }
  }
  ensureDirectories(services, options.stackDir);
  await ensureImages(engine, services, options, report);
  await ensureNetworks(engine, plan, services, report);
  const healthy = new Map<string, Promise<void>>();
  const actions: Record<string, Action> = {};
  const deadline = started + options.timeoutMs;
  const waitHealthy = async (service: PlannedService, since: number): Promise<void> => {
    const result = await waitForHealthy(engine, service.container, {
      timeoutMs: Math.max(1000, deadline - Date.now()),
      intervalMs: 500,
      runHealthcheck: true,
    });
    const took = seconds(Date.now() - since);
    if (result.outcome === 'healthy' || result.outcome === 'running') {
      report.line(
        `  ✓ ${service.name.padEnd(22)} ${(result.outcome === 'healthy' ? 'healthy' : 'running').padEnd(9)} ${actions[service.name] ?? ''} ${took}`,
      );
      return;
    }
    const why =
      result.outcome === 'exited'
        ? `exited${result.exitCode === undefined ? '' : ` with code ${String(result.exitCode)}`}`
        : result.outcome === 'unhealthy'
          ? `unhealthy${result.lastCheckOutput === undefined || result.lastCheckOutput === '' ? '' : `: ${result.lastCheckOutput.trim()}`}`
          : 'not healthy in time';
    report.line(`  ✗ ${service.name.padEnd(22)} ${why} (${took})`);
    throw new StackError(
      `${service.name} is ${why}; its last log lines:\n${await lastLogs(engine, service.container)}`,
    );
  };
  for (const group of phases(services)) {
    report.line(`phase ${String(group[0]?.phase ?? 0)}: ${group.map((s) => s.name).join(', ')}`);
    const inPhase = new Set(group.map((s) => s.name));
    const pending = [...group];
    const waits: Promise<void>[] = [];
    // start in dependency order within the phase: each after its in-phase dependencies are healthy
    while (pending.length > 0) {
      const index = pending.findIndex((s) =>
        s.dependsOn.every((d) => !inPhase.has(d.service) || healthy.has(d.service)),
      );
      if (index < 0)
        throw new StackError(`dependency cycle among ${pending.map((s) => s.name).join(', ')}`);
      const service = pending.splice(index, 1)[0] as PlannedService;
      await Promise.all(
        service.dependsOn.flatMap((d) => {
          const wait = healthy.get(d.service);
          return inPhase.has(d.service) && wait !== undefined ? [wait] : [];
        }),
      );
      const since = Date.now();
      actions[service.name] = await startService(engine, plan, service);
      const wait = waitHealthy(service, since);
      wait.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
      healthy.set(service.name, wait);
      waits.push(wait);
    }
    const outcomes = await Promise.allSettled(waits);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason as Error;
  }
  return { elapsedMs: Date.now() - started, actions };
}

/** Stops and removes the project's containers (latest phase first), then its networks. */
export async function down(
  engine: DockerEngine,
  project: string,
  only: readonly string[],
  report: Reporter,
): Promise<number> {
  const containers = (await engine.list({ all: true }))
    .filter((c) => c.labels[PROJECT_LABEL] === project)
    .filter((c) => only.length === 0 || only.includes(c.compose.service ?? c.name))
    .sort((a, b) => Number(b.labels[PHASE_LABEL] ?? 0) - Number(a.labels[PHASE_LABEL] ?? 0));
  // latest phase first; the containers of one phase stop together
  const byPhase = new Map<number, typeof containers>();
  for (const c of containers) {
    const phase = Number(c.labels[PHASE_LABEL] ?? 0);
    byPhase.set(phase, [...(byPhase.get(phase) ?? []), c]);
  }
  for (const phase of [...byPhase.keys()].sort((a, b) => b - a)) {
    await Promise.all(
      (byPhase.get(phase) ?? []).map(async (c) => {
        const since = Date.now();
        await engine.stop(c.name, { timeoutS: 10 });
        // anonymous volumes (an image's VOLUME) go with it; data is in bind mounts
        await engine.removeContainer(c.name, { force: true, volumes: true });
        report.line(`  ✓ ${c.name.padEnd(22)} removed ${seconds(Date.now() - since)}`);
      }),
    );
  }
  if (only.length === 0) {
    for (const n of await engine.listNetworks({ [PROJECT_LABEL]: project })) {
      await engine.removeNetwork(n.name);
      report.line(`  ✓ network ${n.name} removed`);
    }
  }
  return containers.length;
}
