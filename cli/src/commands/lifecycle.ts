import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isStandalone, variantPath } from '@datamancy/catalog';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { UsageError } from '../errors.ts';
import { down, ensureDirectories, StackError, up, type Reporter } from '../stack-runner/apply.ts';
import { planStack, selectServices, type StackPlan } from '../stack-runner/plan.ts';
import { openStackDir, requireEnv } from '../stack-dir.ts';
import { profileServices, recipesFor, standInTags } from '../images/recipes.ts';
import { parseProfiles } from './doctor.ts';

/**
 * `datamancy volumes | up | down | status | logs`: the rendered compose file applied through
 * the Engine API (Docker or Podman), phase by phase, waiting for health, with progress.
 */

interface StackFlags {
  dir: string;
  catalog?: string;
  profile?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function withStackOptions(command: Command, profiles = true): Command {
  command
    .option('--dir <dir>', 'the stack directory', 'stack')
    .option('--catalog <file>', 'the catalog (default <dir>/catalog.yaml)');
  if (profiles)
    command.option(
      '-p, --profile <name>',
      'profile(s): bootstrap, databases, applications, infrastructure, bootstrap_vector_dbs, all (repeatable or comma-separated; default bootstrap); or local, a stack of its own',
      collect,
    );
  return command;
}

/**
 * The plan of the stack in `flags.dir`: the main compose file, or a standalone profile's own
 * (`docker-compose.local.yml`) when that profile is the one chosen. `images` runs stand-ins
 * in place of the file's images.
 */
function loadPlan(
  flags: StackFlags,
  profiles: readonly string[] = parseProfiles(flags.profile),
  images?: Readonly<Record<string, string>>,
): { plan: StackPlan; stackDir: string; stack: ReturnType<typeof openStackDir> } {
  const stack = openStackDir(flags);
  const dotenv = requireEnv(stack);
  const only = profiles.length === 1 ? profiles[0] : undefined;
  const file =
    only !== undefined && isStandalone(only)
      ? variantPath('docker-compose.yml', only)
      : 'docker-compose.yml';
  const composePath = join(stack.dir, file);
  if (!existsSync(composePath))
    throw new UsageError(`${composePath} is missing: run datamancy render`);
  // compose's order: the shell's environment over .env
  const env = {
    ...dotenv,
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k in dotenv)),
  };
  const plan = planStack(readFileSync(composePath, 'utf8'), {
    stackDir: stack.dir,
    env,
    origin: composePath,
    ...(images === undefined ? {} : { images }),
  });
  return { plan, stackDir: stack.dir, stack };
}

function engine(): DockerEngine {
  return new DockerEngine(resolveEndpoint(process.env.DOCKER_HOST, process.env.XDG_RUNTIME_DIR));
}

const stderrReporter: Reporter = { line: (text) => process.stderr.write(`${text}\n`) };

export function registerLifecycle(program: Command): void {
  withStackOptions(
    program
      .command('volumes')
      .description(
        'create the data directories under STACK_DATA_DIR, owned by the user each service runs as',
      )
      .addHelpText(
        'after',
        '\nup does this too; run it alone when you start the stack with docker compose.\n\nExamples:\n  datamancy volumes --profile all',
      ),
  ).action((flags: StackFlags) => {
    const { plan, stackDir } = loadPlan(flags);
    const services = selectServices(plan, parseProfiles(flags.profile));
    const dirs = ensureDirectories(services, stackDir);
    for (const d of dirs)
      process.stdout.write(`${d.action.padEnd(10)} ${d.owner.padEnd(22)} ${d.path}\n`);
    process.stdout.write(`${String(dirs.length)} directories ready\n`);
  });

  withStackOptions(
    program
      .command('up')
      .description(
        "start the chosen profiles in the design's phase order, each service once its dependencies are healthy",
      )
      .option('--timeout <seconds>', 'give up when the stack is not healthy within this', '900')
      .option('--pull <policy>', 'missing (pull absent images) or never', 'missing')
      .option('--no-build', 'do not build missing datamancy/* images from ../Dockerfile')
      .option(
        '--local-images',
        'run the images datamancy images build made here (stand-ins for Caddy, OpenLDAP, Redis, PostgreSQL, the socket proxy); only with --profile local; nothing is pulled or built',
      )
      .addHelpText(
        'after',
        [
          '',
          'Progress goes to stderr: each phase, then each service when healthy. A service that',
          'exits or stays unhealthy stops the run (exit 1) with its last log lines.',
          'Unchanged services are left running; changed ones (image, env, mounts) are recreated.',
          '',
          'Examples:',
          '  datamancy up                       # bootstrap',
          '  datamancy up --profile applications',
          '  datamancy up --profile all --timeout 1800',
          '  datamancy images build --dir D --profile local && datamancy up --dir D --profile local --local-images',
        ].join('\n'),
      ),
  ).action(
    async (
      flags: StackFlags & { timeout: string; pull: string; build: boolean; localImages?: boolean },
    ) => {
      const timeoutS = Number(flags.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS < 1 || timeoutS > 86_400)
        throw new UsageError(`--timeout: "${flags.timeout}" is not a number of seconds (1–86400)`);
      if (flags.pull !== 'missing' && flags.pull !== 'never')
        throw new UsageError(`--pull: "${flags.pull}" is not missing or never`);
      const profiles = parseProfiles(flags.profile);
      const local = flags.localImages === true;
      if (local && !(profiles.length === 1 && profiles[0] === 'local'))
        throw new UsageError(
          `--local-images: only the local profile runs on images built here (add --profile local; got ${profiles.join(', ')})`,
        );
      const stack = openStackDir(flags);
      const images = local
        ? standInTags(recipesFor(stack.catalog, profileServices(stack.catalog, 'local')))
        : undefined;
      const { plan, stackDir } = loadPlan(flags, profiles, images);
      const services = selectServices(plan, profiles);
      if (services.length === 0)
        throw new UsageError(`no service in profile(s) ${profiles.join(', ')}`);
      process.stderr.write(
        `datamancy up: ${profiles.join(', ')} → ${String(services.length)} services, project ${plan.project}, engine ${engine().endpoint}\n`,
      );
      const only = profiles[0];
      if (profiles.length === 1 && only !== undefined && isStandalone(only))
        for (const note of stack.catalog.standalone?.[only]?.notes ?? [])
          process.stderr.write(`  note: ${note}\n`);
      const result = await up(
        engine(),
        plan,
        services,
        {
          timeoutMs: timeoutS * 1000,
          pull: local ? 'never' : flags.pull,
          stackDir,
          build: local ? false : flags.build,
          ...(local
            ? {
                missingHint: `build them with: datamancy images build --dir ${flags.dir} --profile local`,
              }
            : {}),
        },
        stderrReporter,
      );
      const counts = new Map<string, number>();
      for (const a of Object.values(result.actions)) counts.set(a, (counts.get(a) ?? 0) + 1);
      process.stdout.write(
        `up: ${String(services.length)} services healthy in ${(result.elapsedMs / 1000).toFixed(1)} s (${[...counts].map(([a, n]) => `${String(n)} ${a}`).join(', ')})\n`,
      );
    },
  );

  withStackOptions(
    program
      .command('down')
      .description(
        "stop and remove the stack's containers (latest phase first) and networks; data stays",
      )
      .argument('[services...]', 'only these services (networks stay)')
      .addHelpText(
        'after',
        '\nData under STACK_DATA_DIR is never removed.\n\nExamples:\n  datamancy down\n  datamancy down outline planka',
      ),
    false,
  ).action(async (only: string[], flags: StackFlags) => {
    const { plan } = loadPlan(flags);
    for (const name of only) {
      if (!plan.services.some((s) => s.name === name))
        throw new UsageError(`unknown service "${name}"`);
    }
    const n = await down(engine(), plan.project, only, stderrReporter);
    process.stdout.write(`down: ${String(n)} container(s) removed\n`);
  });

  withStackOptions(
    program
      .command('status')
      .description(
        'state and health of every service of the chosen profiles (exit 3 when one is not up)',
      )
      .option('--json', 'machine-readable output'),
  ).action(async (flags: StackFlags & { json?: boolean }) => {
    const { plan } = loadPlan(flags);
    const services = selectServices(plan, parseProfiles(flags.profile));
    const containers = new Map((await engine().list({ all: true })).map((c) => [c.name, c]));
    const rows = services
      .sort((a, b) => a.phase - b.phase || a.name.localeCompare(b.name))
      .map((s) => {
        const c = containers.get(s.container);
        const current = c?.labels['datamancy.config-hash'] === s.hash;
        return {
          service: s.name,
          phase: s.phase,
          state: c?.state ?? 'not created',
          health: c?.health ?? 'none',
          status: c?.status ?? '',
          current: c === undefined ? false : current,
        };
      });
    const up = (r: (typeof rows)[number]) =>
      r.state === 'running' && (r.health === 'healthy' || r.health === 'none');
    if (flags.json === true) {
      process.stdout.write(
        `${JSON.stringify({ project: plan.project, services: rows }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(
        `${'SERVICE'.padEnd(24)}PHASE  ${'STATE'.padEnd(12)}${'HEALTH'.padEnd(11)}STATUS\n`,
      );
      for (const r of rows) {
        const mark = up(r) ? '✓' : '✗';
        process.stdout.write(
          `${mark} ${r.service.padEnd(22)}${String(r.phase).padEnd(7)}${r.state.padEnd(12)}${r.health.padEnd(11)}${r.status}${r.state !== 'not created' && !r.current ? ' (config changed: run up)' : ''}\n`,
        );
      }
      process.stdout.write(`${String(rows.filter(up).length)}/${String(rows.length)} up\n`);
    }
    if (!rows.every(up)) process.exitCode = 3;
  });

  withStackOptions(
    program
      .command('logs')
      .description("a service's output")
      .argument('<service>', 'the service')
      .option('-n, --tail <lines>', 'last lines', '200')
      .option('-f, --follow', 'keep printing new output until interrupted')
      .addHelpText('after', '\nExamples:\n  datamancy logs authelia\n  datamancy logs -f probe'),
    false,
  ).action(async (name: string, flags: StackFlags & { tail: string; follow?: boolean }) => {
    const tail = Number(flags.tail);
    if (!Number.isInteger(tail) || tail < 0 || tail > 100_000)
      throw new UsageError(`--tail: "${flags.tail}" is not a line count (0–100000)`);
    const { plan } = loadPlan(flags);
    const service = plan.services.find((s) => s.name === name);
    if (service === undefined)
      throw new UsageError(
        `unknown service "${name}"; services: ${plan.services.map((s) => s.name).join(', ')}`,
      );
    const e = engine();
    const print = (l: { stream: string; text: string }) =>
      (l.stream === 'stderr' ? process.stderr : process.stdout).write(`${l.text}\n`);
    try {
      if (flags.follow === true) {
        const controller = new AbortController();
        process.once('SIGINT', () => controller.abort());
        process.once('SIGTERM', () => controller.abort());
        await e.followLogs(service.container, { tail }, print, controller.signal);
      } else {
        const logs = await e.logs(service.container, { tail, maxBytes: 16 * 1024 * 1024 });
        logs.lines.forEach(print);
      }
    } catch (err) {
      if ((err as { code?: string }).code === 'NOT_FOUND')
        throw new StackError(`${name} has no container (run datamancy up)`);
      throw err;
    }
  });
}
