import { healthcheckArgv } from './mapping.ts';
import type { ContainerDetails, ContainerEngine, ContainerSummary } from './types.ts';

export type HealthWaitOutcome = 'healthy' | 'running' | 'unhealthy' | 'exited' | 'timeout';

export interface HealthWaitResult {
  outcome: HealthWaitOutcome;
  /** What decided: the engine's health status, our run of the container's own healthcheck, or its state. */
  via: 'engine' | 'exec-healthcheck' | 'state' | 'deadline';
  elapsedMs: number;
  polls: number;
  state: string;
  exitCode?: number;
  lastCheckOutput?: string;
}

export interface HealthWaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Run the container's configured healthcheck ourselves when the engine has no verdict. */
  runHealthcheck?: boolean;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Waits until a container is healthy, running without a healthcheck, exited, or out of time.
 * Engine health alone is not trusted: Podman without systemd never runs healthchecks, so when
 * the engine has no verdict we run the container's own healthcheck command through exec.
 */
export async function waitForHealthy(
  engine: ContainerEngine,
  idOrName: string,
  options: HealthWaitOptions,
): Promise<HealthWaitResult> {
  const started = Date.now();
  const interval = options.intervalMs ?? 500;
  let polls = 0;
  let last: ContainerDetails | undefined;
  let lastOutput: string | undefined;
  let sawUnhealthy = false;
  // a socket proxy may refuse exec (an argv not on its allowlist): then the engine's own
  // health is all there is, and the wait goes on with it
  let runHealthcheck = options.runHealthcheck !== false;
  let refused: string | undefined;
  const result = (outcome: HealthWaitOutcome, via: HealthWaitResult['via']): HealthWaitResult => ({
    outcome,
    via,
    elapsedMs: Date.now() - started,
    polls,
    state: last?.state ?? 'unknown',
    ...(last?.exitCode === undefined ? {} : { exitCode: last.exitCode }),
    ...(lastOutput === undefined ? {} : { lastCheckOutput: lastOutput }),
  });

  for (;;) {
    polls++;
    last = await engine.inspect(idOrName, options.signal);
    if (last.state === 'exited' || last.state === 'dead') return result('exited', 'state');
    if (last.state === 'running') {
      if (last.health === 'healthy') return result('healthy', 'engine');
      if (last.health === 'unhealthy') sawUnhealthy = true;
      if (last.healthcheck === undefined) return result('running', 'state');
      if (runHealthcheck && last.health !== 'unhealthy') {
        const remaining = options.timeoutMs - (Date.now() - started);
        // the argv as configured (the details' own copy is redacted)
        const argv = healthcheckArgv(last) ?? last.healthcheck.argv;
        const check = await engine
          .exec(idOrName, argv, {
            timeoutMs: Math.max(100, Math.min(remaining, (last.healthcheck.timeoutS ?? 30) * 1000)),
            maxOutputBytes: 4096,
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          })
          .catch((err: unknown) => {
            const status = (err as { data?: { engineStatus?: number } }).data?.engineStatus;
            if (status !== 403) throw err;
            refused = (err as Error).message;
            return undefined;
          });
        if (check === undefined) {
          runHealthcheck = false;
          lastOutput = `exec refused (${refused ?? '403'}): waiting on the engine's own health`;
          continue;
        }
        // keep the last thing the check said (a run cut short by the deadline says nothing)
        const said = `${check.stdout}${check.stderr}`.slice(0, 500);
        if (said.trim() !== '' || lastOutput === undefined) lastOutput = said;
        if (check.exitCode === 0) return result('healthy', 'exec-healthcheck');
        sawUnhealthy = true;
      }
    }
    if (Date.now() - started + interval > options.timeoutMs || options.signal?.aborted === true) {
      return result(sawUnhealthy ? 'unhealthy' : 'timeout', 'deadline');
    }
    await sleep(interval, options.signal);
  }
}

/** Containers that declare they depend on `target` (compose `depends_on`, or our label). */
export function findDependents(
  all: readonly ContainerSummary[],
  target: ContainerSummary,
): string[] {
  const keys = new Set([
    target.name,
    ...(target.compose.service === undefined ? [] : [target.compose.service]),
  ]);
  return all
    .filter(
      (c) =>
        c.id !== target.id &&
        (target.compose.project === undefined ||
          c.compose.project === undefined ||
          c.compose.project === target.compose.project) &&
        c.compose.dependsOn.some((d) => keys.has(d)),
    )
    .map((c) => c.name);
}
