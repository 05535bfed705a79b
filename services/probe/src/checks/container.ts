import type { ContainerCheck } from '../manifest/schema.ts';
import { errorEvidence, type Attempt, type CheckStatus, type Evidence } from './types.ts';

/** The fields of the tool server's `docker_inspect` answer this check reads. */
export interface InspectedContainer {
  name: string;
  state: string;
  health?: string;
  restartCount?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  error?: string;
}

/** Reads a container through the tool server (`docker_inspect`), never the engine directly. */
export type InspectContainer = (name: string, signal: AbortSignal) => Promise<InspectedContainer>;

/** Remembers restart counts over time, to count restarts within a window. */
export class RestartHistory {
  readonly #samples = new Map<string, { at: number; count: number }[]>();

  /**
   * Records the count; returns the restarts seen within the last `windowMs` and those since
   * the previous sample (news of this round).
   */
  record(
    container: string,
    count: number,
    windowMs: number,
    now = Date.now(),
  ): { inWindow: number; sinceLast: number } {
    const kept = (this.#samples.get(container) ?? []).filter((s) => now - s.at <= windowMs);
    // A recreated container starts counting at 0 again: forget the older samples.
    const samples = kept.length > 0 && (kept[kept.length - 1]?.count ?? 0) > count ? [] : kept;
    const previous = samples[samples.length - 1]?.count ?? count;
    samples.push({ at: now, count });
    this.#samples.set(container, samples);
    return { inWindow: count - (samples[0]?.count ?? count), sinceLast: count - previous };
  }
}

/** `30 s`, `10 min`, `90 s`: the restart window as the reasons name it. */
function windowText(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** Runs a `container` check once: running, not unhealthy, not crashed, not restart-looping. */
export async function runContainerCheck(
  inspect: InspectContainer,
  history: RestartHistory,
  check: ContainerCheck,
  signal: AbortSignal,
): Promise<Attempt> {
  const started = performance.now();
  const name = check.container ?? '';
  const evidence: Evidence = { reasons: [] };
  let info: InspectedContainer;
  try {
    info = await inspect(name, signal);
  } catch (err) {
    const latencyMs = Math.round(performance.now() - started);
    const error = signal.aborted
      ? { code: 'TIMEOUT', message: `no answer within ${check.timeoutMs} ms` }
      : errorEvidence(err);
    evidence.error = error;
    if (error.code === 'NOT_FOUND') {
      evidence.reasons.push(`container ${name} not found`);
      return { status: 'fail', latencyMs, message: evidence.reasons[0] ?? '', evidence };
    }
    // The tool server or the engine could not answer: no verdict on the container.
    evidence.reasons.push(`cannot inspect ${name}: ${error.code}: ${error.message}`);
    return { status: 'unknown', latencyMs, message: evidence.reasons[0] ?? '', evidence };
  }
  const latencyMs = Math.round(performance.now() - started);
  const { inWindow: restarts, sinceLast } = history.record(
    name,
    info.restartCount ?? 0,
    check.restartWindowS * 1000,
  );
  evidence.container = {
    name: info.name,
    state: info.state,
    health: info.health,
    exitCode: info.exitCode ?? null,
    oomKilled: info.oomKilled ?? false,
    restartCount: info.restartCount,
    restartsInWindow: restarts,
    restartsSinceLast: sinceLast,
    startedAt: info.startedAt ?? null,
    finishedAt: info.finishedAt ?? null,
  };
  let status: CheckStatus = 'pass';
  const fail = (reason: string): void => {
    status = 'fail';
    evidence.reasons.push(reason);
  };
  const window = windowText(check.restartWindowS);
  const looping = restarts >= check.maxRestarts;
  if (info.state === 'running') {
    if (info.health === 'unhealthy') fail('running but unhealthy');
    // The engine's restart policy brought it back (a crash, an OOM kill): degraded in the
    // round that first sees it, so the loop looks at why; the rounds after pass, the window
    // still counting towards a restart loop.
    if (!looping && sinceLast > 0) {
      evidence.reasons.push(
        `restarted by the engine since the last round (restart count ${String(info.restartCount ?? 0)}, ${restarts} within ${window}${info.finishedAt === undefined ? '' : `; last exit ${info.finishedAt}`})`,
      );
      if (info.health !== 'unhealthy') status = 'degraded';
    }
  } else if (info.state === 'restarting') {
    fail(`restart loop: restarting (restart count ${info.restartCount ?? 0})`);
  } else if (info.state === 'exited' || info.state === 'dead') {
    const how = info.oomKilled === true ? 'OOM-killed' : `exit code ${info.exitCode ?? '?'}`;
    fail(`${info.state} (${how})`);
  } else {
    fail(`container is ${info.state}`);
  }
  // A looping container is caught running or between two restarts (exited): a loop either way.
  if (looping && info.state !== 'restarting') {
    fail(`restart loop: ${restarts} restarts within ${window}`);
  }
  const message =
    evidence.reasons.length === 0
      ? `running${info.health !== undefined && info.health !== 'none' ? `, ${info.health}` : ''}`
      : evidence.reasons.join('; ');
  return { status, latencyMs, message, evidence };
}
