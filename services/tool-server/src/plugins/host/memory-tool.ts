import { z } from 'zod';
import {
  AppError,
  toolsFor,
  type ContainerDetails,
  type ContainerEngine,
} from '@datamancy/plugin-sdk';
import type { HostPluginConfig } from './config.ts';
import { ContainerName } from './read-tools.ts';
import { preview, refuseUnmanaged, UNMANAGED_LABEL } from './write-tools.ts';

const tool = toolsFor<HostPluginConfig>();
const MIB = 1024 * 1024;
export const MIN_MEMORY_MB = 16;

const mib = (bytes: number | undefined): string =>
  bytes === undefined ? 'no limit' : `${Math.round((bytes / MIB) * 10) / 10} MiB`;

/**
 * The limits to send for a new memory limit. Docker refuses a memory limit above the
 * container's memory+swap limit unless both change together, so swap always comes along:
 * unlimited swap stays unlimited, a set swap keeps its headroom above memory, and a
 * container without limits gets what `docker run --memory` gives (swap as much as memory).
 */
export function planMemoryUpdate(
  current: Pick<ContainerDetails, 'memoryLimitBytes' | 'memorySwapLimitBytes'>,
  memoryBytes: number,
): { memoryBytes: number; memorySwapBytes: number } {
  const swap = current.memorySwapLimitBytes;
  if (swap === -1) return { memoryBytes, memorySwapBytes: -1 };
  if (
    swap !== undefined &&
    current.memoryLimitBytes !== undefined &&
    swap >= current.memoryLimitBytes
  )
    return { memoryBytes, memorySwapBytes: memoryBytes + (swap - current.memoryLimitBytes) };
  return { memoryBytes, memorySwapBytes: 2 * memoryBytes };
}

export function createMemoryTool(engine: ContainerEngine) {
  return tool({
    name: 'docker_update_memory',
    description: `Change a container's memory limit in place, in MiB (at least ${MIN_MEMORY_MB}, at most the host plugin's maxMemoryMb); swap keeps its headroom. With dry_run: true, returns the effect preview with currentMemoryBytes and newMemoryBytes instead of acting. Never touches containers labelled ${UNMANAGED_LABEL}=false. An engine whose Docker API cannot update containers (Podman's) answers 502.`,
    capabilities: ['host.docker.write'],
    mutating: true,
    timeoutMs: 60_000,
    input: z.object({
      container: ContainerName,
      memory_mb: z.number().int().min(MIN_MEMORY_MB).describe('the new limit in MiB'),
      dry_run: z.boolean().default(false),
    }),
    async handler(ctx, args) {
      if (args.memory_mb > ctx.config.maxMemoryMb) {
        const message = `at most ${ctx.config.maxMemoryMb} (the host plugin's maxMemoryMb)`;
        throw new AppError('INVALID_ARGUMENTS', `invalid arguments: args.memory_mb: ${message}`, {
          data: { issues: [{ path: 'args.memory_mb', message }] },
        });
      }
      const newMemoryBytes = args.memory_mb * MIB;
      const { target, preview: p } = await preview(
        engine,
        ctx,
        'update_memory',
        args.container,
        (t) =>
          `would set the memory limit of ${t.name} from ${mib(t.memoryLimitBytes)} to ${mib(newMemoryBytes)}`,
      );
      const plan = planMemoryUpdate(target, newMemoryBytes);
      const usage =
        target.state === 'running'
          ? (await engine.stats(target.id, ctx.signal)).memoryBytes
          : undefined;
      const tight = usage !== undefined && usage >= newMemoryBytes;
      const numbers = {
        currentMemoryBytes: target.memoryLimitBytes ?? null,
        newMemoryBytes,
        newMemorySwapBytes: plan.memorySwapBytes,
        ...(usage === undefined ? {} : { usageBytes: usage }),
        ...(tight
          ? {
              warning: `the container uses ${mib(usage)} now: a lower limit makes the kernel reclaim memory or OOM-kill it`,
            }
          : {}),
      };
      if (args.dry_run) return { dryRun: true, ...p, ...numbers };
      refuseUnmanaged(target);
      await engine.updateResources(target.id, plan, ctx.signal);
      const after = await engine.inspect(target.id, ctx.signal);
      ctx.logger.info(
        { container: target.name, memoryBytes: newMemoryBytes, caller: ctx.caller.name },
        'container memory limit changed',
      );
      return {
        dryRun: false,
        action: 'update_memory',
        target: p.target,
        before: { memoryLimitBytes: target.memoryLimitBytes ?? null },
        after: { memoryLimitBytes: after.memoryLimitBytes ?? null, state: after.state },
        ...numbers,
      };
    },
  });
}
