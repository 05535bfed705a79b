import { z } from 'zod';
import { toolsFor, waitForHealthy, type ContainerEngine } from '@datamancy/plugin-sdk';
import type { HostPluginConfig } from './config.ts';
import type { RedactOutput } from './redact-output.ts';

const tool = toolsFor<HostPluginConfig>();
export const ContainerName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.-]+$/, 'a container name or id');

/** `redact`: every result built from inspect data goes through it (see redact-output.ts). */
export function createReadTools(engine: ContainerEngine, redact: RedactOutput) {
  const dockerListContainers = tool({
    name: 'docker_list_containers',
    description:
      'List containers with image, state, health, compose project/service, depends_on, ports, restart count, start/finish times and exit code.',
    capabilities: ['host.docker.inspect'],
    input: z.object({
      all: z.boolean().default(true).describe('include stopped containers'),
      project: z.string().min(1).optional().describe('only this compose project'),
    }),
    async handler(ctx, args) {
      const list = await engine.list({ all: args.all, signal: ctx.signal });
      const chosen = list.filter(
        (c) => args.project === undefined || c.compose.project === args.project,
      );
      // list() has no restart counts or times; inspect each (a few ms apiece on a local socket).
      const detailed = await Promise.all(
        chosen.map(async (c) => {
          const d = await engine.inspect(c.id, ctx.signal);
          return {
            id: c.id.slice(0, 12),
            name: c.name,
            image: c.image,
            state: c.state,
            status: c.status,
            health: d.health,
            compose: c.compose,
            ports: c.ports,
            restartCount: d.restartCount,
            startedAt: d.startedAt ?? null,
            finishedAt: d.finishedAt ?? null,
            exitCode: d.exitCode ?? null,
            oomKilled: d.oomKilled,
            managed: c.labels['datamancy.manage'] !== 'false',
          };
        }),
      );
      return redact(ctx.config, { engine: engine.endpoint, containers: detailed });
    },
  });

  const dockerInspect = tool({
    name: 'docker_inspect',
    description:
      "Inspect one container: parsed state, health, healthcheck, mounts, networks and the engine's document. Secrets are [redacted]: secret-named env vars, labels and flags, URL passwords, Authorization headers, and the stack's own secrets wherever they occur.",
    capabilities: ['host.docker.inspect'],
    input: z.object({ container: ContainerName }),
    handler: async (ctx, args) =>
      redact(ctx.config, await engine.inspect(args.container, ctx.signal)),
  });

  const dockerLogs = tool({
    name: 'docker_logs',
    description:
      'Read the tail of a container log, split by stream; the newest lines are kept when over the byte budget.',
    capabilities: ['host.docker.inspect'],
    input: z.object({
      container: ContainerName,
      tail: z.number().int().min(1).max(10_000).default(200),
      since: z.iso.datetime({ offset: true }).optional().describe('only lines after this time'),
      stdout: z.boolean().default(true),
      stderr: z.boolean().default(true),
      timestamps: z.boolean().default(false),
      max_bytes: z
        .number()
        .int()
        .min(256)
        .max(8 * 1024 * 1024)
        .optional(),
    }),
    handler: (ctx, args) =>
      engine.logs(
        args.container,
        {
          tail: args.tail,
          ...(args.since === undefined ? {} : { since: Math.floor(Date.parse(args.since) / 1000) }),
          stdout: args.stdout,
          stderr: args.stderr,
          timestamps: args.timestamps,
          maxBytes: Math.min(args.max_bytes ?? ctx.config.logsMaxBytes, ctx.config.logsMaxBytes),
        },
        ctx.signal,
      ),
  });

  const dockerStats = tool({
    name: 'docker_stats',
    description:
      'CPU % and memory of a running container, computed as `docker stats` does, plus network and block I/O totals.',
    capabilities: ['host.docker.inspect'],
    input: z.object({ container: ContainerName }),
    handler: (ctx, args) => engine.stats(args.container, ctx.signal),
  });

  const dockerHealthWait = tool({
    name: 'docker_health_wait',
    description:
      "Wait until a container is healthy, running without a healthcheck, exited, or out of time. Runs the container's own healthcheck when the engine gives no verdict (Podman without systemd).",
    capabilities: ['host.docker.inspect'],
    timeoutMs: 610_000,
    input: z.object({
      container: ContainerName,
      timeout_ms: z.number().int().min(100).max(600_000).default(60_000),
      interval_ms: z.number().int().min(50).max(60_000).default(1000),
    }),
    handler: async (ctx, args) =>
      redact(
        ctx.config,
        await waitForHealthy(engine, args.container, {
          timeoutMs: args.timeout_ms,
          intervalMs: args.interval_ms,
          signal: ctx.signal,
        }),
      ),
  });

  return [dockerListContainers, dockerInspect, dockerLogs, dockerStats, dockerHealthWait];
}
