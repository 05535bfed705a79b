import { z } from 'zod';
import { AppError, toolsFor, type ContainerEngine } from '@datamancy/plugin-sdk';
// Not re-exported by the plugin SDK yet: this plugin's one import from beside the SDK.
import { explainExit, parseEventTime } from '@datamancy/plugin-sdk';
import type { HostPluginConfig } from './config.ts';
import { ContainerName } from './read-tools.ts';

const tool = toolsFor<HostPluginConfig>();

const SINCE = /^(\d{1,6}[smhd]|\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d))$/;

export function createEventsTool(engine: ContainerEngine) {
  return tool({
    name: 'docker_events',
    description:
      "Container events (create, start, kill, stop, die with exit code, restart, oom, health_status, …) between since and until, oldest first, the newest `limit` kept. With `container`, also a classification of its last exit: operator-stop, crash, oom or unknown, with the events that decided. Docker keeps only its last 256 events; Podman's event log keeps more.",
    capabilities: ['host.docker.inspect'],
    timeoutMs: 30_000,
    input: z.object({
      container: ContainerName.optional(),
      since: z
        .string()
        .regex(SINCE, 'an ISO timestamp with offset, or a span back from now such as 10m, 2h, 1d')
        .describe('ISO timestamp, or a span back from now: 90s, 10m, 2h, 1d'),
      until: z.iso.datetime({ offset: true }).optional().describe('default now; not in the future'),
      limit: z.number().int().min(1).max(1000).default(200),
    }),
    async handler(ctx, args) {
      const now = Date.now();
      const until = args.until === undefined ? now : Date.parse(args.until);
      if (until > now + 1000) {
        const message = 'in the future: events are read, not waited for';
        throw new AppError('INVALID_ARGUMENTS', `invalid arguments: args.until: ${message}`, {
          data: { issues: [{ path: 'args.until', message }] },
        });
      }
      const since = parseEventTime(args.since, now);
      const target =
        args.container === undefined ? undefined : await engine.inspect(args.container, ctx.signal);
      const read = await engine.events({
        since: new Date(since),
        until: new Date(until),
        ...(target === undefined ? {} : { container: target.name }),
        limit: args.limit + 1,
        signal: ctx.signal,
      });
      const events = read.slice(Math.max(0, read.length - args.limit));
      return {
        engine: engine.endpoint,
        since: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
        events,
        truncated: read.length > args.limit,
        ...(target === undefined
          ? {}
          : {
              classification: {
                container: target.name,
                state: target.state,
                finishedAt: target.finishedAt ?? null,
                ...explainExit(read, target.id, {
                  ...(target.finishedAt === undefined ? {} : { finishedAt: target.finishedAt }),
                  oomKilled: target.oomKilled,
                  eventsUntil: new Date(until),
                }),
              },
            }),
      };
    },
  });
}
