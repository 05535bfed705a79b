import { z } from 'zod';
import {
  AppError,
  execNamesOf,
  findDependents,
  isExecAllowed,
  toolsFor,
  type ContainerDetails,
  type ContainerEngine,
  type ToolContext,
} from '@datamancy/plugin-sdk';
import type { HostPluginConfig } from './config.ts';
import { ContainerName } from './read-tools.ts';

const tool = toolsFor<HostPluginConfig>();
type Action = 'restart' | 'start' | 'stop' | 'exec' | 'update_memory';

export const UNMANAGED_LABEL = 'datamancy.manage';

function snapshot(d: ContainerDetails) {
  return {
    state: d.state,
    health: d.health,
    restartCount: d.restartCount,
    startedAt: d.startedAt ?? null,
    exitCode: d.exitCode ?? null,
  };
}

/** Whether `argv` is allowed for the container by the exec allowlist. */
export function execAllowed(
  config: HostPluginConfig,
  names: readonly string[],
  argv: readonly string[],
): boolean {
  return isExecAllowed(config.execAllowlist, names, argv);
}

/**
 * Looks the target up and builds the effect preview every mutating tool returns on
 * `dry_run` (and checks before acting): target, current state, what depends on it, and
 * whether Datamancy may touch it at all.
 */
export async function preview(
  engine: ContainerEngine,
  ctx: ToolContext<HostPluginConfig>,
  action: Action,
  container: string,
  detail: string | ((target: ContainerDetails) => string),
) {
  const target = await engine.inspect(container, ctx.signal);
  const all = await engine.list({ all: true, signal: ctx.signal });
  const summary = all.find((c) => c.id === target.id) ?? target;
  const dependents = findDependents(all, summary);
  const unmanaged = target.labels[UNMANAGED_LABEL] === 'false';
  return {
    target,
    preview: {
      action,
      target: {
        id: target.id.slice(0, 12),
        name: target.name,
        image: target.image,
        compose: target.compose,
      },
      current: snapshot(target),
      dependents,
      allowed: !unmanaged,
      ...(unmanaged ? { refusal: `${target.name} is labelled ${UNMANAGED_LABEL}=false` } : {}),
      effect: `${typeof detail === 'string' ? detail : detail(target)}${dependents.length > 0 ? `; dependents that may notice: ${dependents.join(', ')}` : ''}`,
    },
  };
}

export function refuseUnmanaged(target: ContainerDetails): void {
  if (target.labels[UNMANAGED_LABEL] === 'false') {
    throw new AppError(
      'CONTAINER_UNMANAGED',
      `${target.name} is labelled ${UNMANAGED_LABEL}=false: Datamancy never changes it`,
      { data: { container: target.name } },
    );
  }
}

const lifecycle = (
  action: 'restart' | 'start' | 'stop',
  describe: string,
  engine: ContainerEngine,
) =>
  tool({
    name: `docker_${action}`,
    description: `${describe} With dry_run: true, returns the effect preview (target, current state, restart count, dependents) instead of acting. Never touches containers labelled ${UNMANAGED_LABEL}=false.`,
    capabilities: ['host.docker.write'],
    mutating: true,
    timeoutMs: 120_000,
    input: z.object({
      container: ContainerName,
      dry_run: z.boolean().default(false),
      timeout_s: z
        .number()
        .int()
        .min(0)
        .max(600)
        .optional()
        .describe('stop grace period before SIGKILL'),
    }),
    async handler(ctx, args) {
      const timeoutS = args.timeout_s ?? ctx.config.stopTimeoutS;
      const verb = {
        restart: `restart ${args.container} (stop grace ${timeoutS} s)`,
        start: `start ${args.container}`,
        stop: `stop ${args.container} (grace ${timeoutS} s)`,
      }[action];
      const { target, preview: p } = await preview(
        engine,
        ctx,
        action,
        args.container,
        `would ${verb}`,
      );
      if (args.dry_run) return { dryRun: true, ...p };
      refuseUnmanaged(target);
      if (action === 'restart') await engine.restart(target.id, { timeoutS });
      else if (action === 'start') await engine.start(target.id);
      else await engine.stop(target.id, { timeoutS });
      const after = await engine.inspect(target.id, ctx.signal);
      ctx.logger.info(
        { action, container: target.name, caller: ctx.caller.name },
        `container ${action}`,
      );
      return {
        dryRun: false,
        action,
        target: p.target,
        before: p.current,
        after: snapshot(after),
        dependents: p.dependents,
      };
    },
  });

export function createWriteTools(engine: ContainerEngine) {
  const dockerExec = tool({
    name: 'docker_exec',
    description:
      'Run an allowlisted command (argv, no shell) inside a container; the allowlist is per container in the host plugin config. With dry_run: true, returns the preview instead.',
    capabilities: ['host.docker.write'],
    mutating: true,
    timeoutMs: 610_000,
    input: z.object({
      container: ContainerName,
      argv: z.array(z.string().min(1).max(4096)).min(1).max(64),
      dry_run: z.boolean().default(false),
      timeout_ms: z.number().int().min(100).max(600_000).optional(),
      max_bytes: z
        .number()
        .int()
        .min(256)
        .max(4 * 1024 * 1024)
        .default(64 * 1024),
    }),
    async handler(ctx, args) {
      const { target, preview: p } = await preview(
        engine,
        ctx,
        'exec',
        args.container,
        `would run ${JSON.stringify(args.argv)} in ${args.container}`,
      );
      const allowed = execAllowed(ctx.config, execNamesOf(target), args.argv);
      if (args.dry_run)
        return {
          dryRun: true,
          ...p,
          allowed: p.allowed && allowed,
          ...(allowed ? {} : { refusal: 'argv not on the exec allowlist' }),
        };
      refuseUnmanaged(target);
      if (!allowed) {
        throw new AppError(
          'NOT_ALLOWLISTED',
          `${JSON.stringify(args.argv)} is not on the exec allowlist of ${target.name}`,
          {
            data: { container: target.name, argv: args.argv },
          },
        );
      }
      const result = await engine.exec(target.id, args.argv, {
        timeoutMs: args.timeout_ms ?? ctx.config.execTimeoutMs,
        maxOutputBytes: args.max_bytes,
        signal: ctx.signal,
      });
      ctx.logger.info(
        { container: target.name, argv: args.argv, exitCode: result.exitCode },
        'container exec',
      );
      return { dryRun: false, action: 'exec', target: p.target, argv: args.argv, ...result };
    },
  });

  return [
    lifecycle('restart', 'Restart a container.', engine),
    lifecycle('start', 'Start a stopped container.', engine),
    lifecycle('stop', 'Stop a running container.', engine),
    dockerExec,
  ];
}
