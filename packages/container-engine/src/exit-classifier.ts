import type { ContainerEvent, ExitClassification } from './types.ts';

/**
 * Tells an operator's stop from a crash by a container's events. What the engines emit:
 *
 * - Docker: a stop is `kill` (signal 15[, then 9]) → `die` → `stop`; `docker kill` is `kill` →
 *   `die`; a restart is `kill` → `die` → `stop` → `start` → `restart`; an OOM kill is `oom`
 *   → `die`.
 * - Podman 4.3 (seen here): a stop is `stop` → `die` → `cleanup` → `cleanup`, but the `stop`
 *   event is often missing (most of the time for a process that exits promptly on SIGTERM):
 *   libpod emits it only if its stop procedure re-locks the container before conmon's cleanup
 *   process has marked it exited. The stopping side's own cleanup still runs, so a stop
 *   always shows two `cleanup` events after the `die`, a process that exits by itself one.
 *   A kill is `kill` → `die` → `cleanup` (no signal named); a restart `restart` → `die` →
 *   `init` → `start`.
 * - A crash on either: only `die` with its exit code (137 for a SIGKILL from outside the
 *   engine, such as the kernel's OOM killer when the engine reports no `oom`).
 */

export interface ExitContext {
  /** State.FinishedAt from inspect: the `die` nearest to it is the exit judged (default: the last). */
  finishedAt?: string | Date;
  /** State.OOMKilled from inspect. */
  oomKilled?: boolean;
  /** How long before the exit an operator's kill or stop still counts (a stop grace). Default 10 min. */
  windowMs?: number;
  /**
   * Where the events read end. Podman's cleanups and Docker's stop follow the die by a moment;
   * an exit closer to this than 2 s is not called a crash yet but unknown.
   */
  eventsUntil?: string | Date;
}

export interface ExitVerdict {
  classification: ExitClassification;
  exitCode?: number;
  /** When the judged `die` happened. */
  diedAt?: string;
  /** What decided, in words, naming the events. */
  basis: string;
}

const DIE_MATCH_MS = 5000;
const AFTER_DIE_MS = 5000;
const SETTLE_MS = 2000;
const DEFAULT_WINDOW_MS = 10 * 60_000;
const NEXT_RUN = new Set(['create', 'init', 'start']);
const TERMINATING = new Set(['TERM', 'KILL', 'INT', 'QUIT', '15', '9', '2', '3']);

interface At {
  e: ContainerEvent;
  t: number;
}

function isContainer(e: ContainerEvent, container: string): boolean {
  return (
    e.container === container ||
    e.id === container ||
    (container.length >= 12 && e.id.startsWith(container))
  );
}

function isOperatorSignal(e: ContainerEvent): boolean {
  if (e.action === 'stop' || e.action === 'restart') return true;
  if (e.action !== 'kill') return false;
  // A kill that only asks for a reload (HUP, USR1) is no stop; an unnamed signal may be.
  return e.signal === undefined || TERMINATING.has(e.signal.toUpperCase().replace(/^SIG/, ''));
}

function describe(x: At, relation: string): string {
  const signal = x.e.signal === undefined ? '' : ` (signal ${x.e.signal})`;
  return `${x.e.action}${signal} at ${x.e.time} ${relation} the die`;
}

/** The verdict with the events and reasoning behind it. */
export function explainExit(
  events: readonly ContainerEvent[],
  container: string,
  around: ExitContext = {},
): ExitVerdict {
  const own: At[] = events
    .filter((e) => isContainer(e, container))
    .map((e) => ({ e, t: Date.parse(e.time) }))
    .sort((a, b) => a.t - b.t);
  const finished =
    around.finishedAt === undefined
      ? undefined
      : around.finishedAt instanceof Date
        ? around.finishedAt.getTime()
        : Date.parse(around.finishedAt);
  const dies = own.filter((x) => x.e.action === 'die');
  let die: At | undefined;
  if (finished === undefined || !Number.isFinite(finished)) die = dies[dies.length - 1];
  else {
    for (const d of dies) {
      const off = Math.abs(d.t - finished);
      if (off <= DIE_MATCH_MS && (die === undefined || off < Math.abs(die.t - finished))) die = d;
    }
  }
  if (die === undefined) {
    if (around.oomKilled === true)
      return { classification: 'oom', basis: 'inspect says OOMKilled (no die event read)' };
    return {
      classification: 'unknown',
      basis:
        finished === undefined
          ? 'no die event among the events read'
          : `no die event within ${DIE_MATCH_MS / 1000} s of finishedAt: the events read do not cover the exit`,
    };
  }
  const index = own.indexOf(die);
  let runStart = 0;
  for (let i = index - 1; i >= 0; i--) {
    if (own[i]?.e.action === 'start') {
      runStart = i + 1;
      break;
    }
  }
  const windowMs = around.windowMs ?? DEFAULT_WINDOW_MS;
  const before = own.slice(runStart, index).filter((x) => die.t - x.t <= windowMs);
  const after: At[] = [];
  for (const x of own.slice(index + 1)) {
    if (NEXT_RUN.has(x.e.action) || x.t - die.t > AFTER_DIE_MS) break;
    after.push(x);
  }
  const exitCode = die.e.exitCode;
  const base = { ...(exitCode === undefined ? {} : { exitCode }), diedAt: die.e.time };

  const oom = [...before, ...after].find((x) => x.e.action === 'oom');
  if (oom !== undefined) return { ...base, classification: 'oom', basis: describe(oom, 'around') };
  if (around.oomKilled === true)
    return { ...base, classification: 'oom', basis: 'inspect says OOMKilled' };

  const operatorBefore = [...before].reverse().find((x) => isOperatorSignal(x.e));
  if (operatorBefore !== undefined)
    return { ...base, classification: 'operator-stop', basis: describe(operatorBefore, 'before') };
  const stopAfter = after.find((x) => x.e.action === 'stop');
  if (stopAfter !== undefined)
    return { ...base, classification: 'operator-stop', basis: describe(stopAfter, 'after') };
  if (after.filter((x) => x.e.action === 'cleanup').length >= 2) {
    return {
      ...base,
      classification: 'operator-stop',
      basis:
        "two cleanup events after the die: Podman's stop cleans up beside conmon's exit command (its stop event is racy and may be missing)",
    };
  }
  const until =
    around.eventsUntil === undefined ? undefined : new Date(around.eventsUntil).getTime();
  if (until !== undefined && until - die.t < SETTLE_MS) {
    return {
      ...base,
      classification: 'unknown',
      basis: `the exit is ${Math.max(0, until - die.t)} ms old: the events that follow a stop may still be coming; ask again in a moment`,
    };
  }
  if (exitCode === undefined)
    return { ...base, classification: 'unknown', basis: 'the die event carries no exit code' };
  if (exitCode === 0) {
    return {
      ...base,
      classification: 'unknown',
      basis: 'exited 0 by itself: no operator stopped it, and a clean exit is no crash',
    };
  }
  return {
    ...base,
    classification: 'crash',
    basis: `died with exit code ${exitCode}${exitCode === 137 ? ' (SIGKILL from outside the engine)' : ''} with no kill, stop or restart before it`,
  };
}

/** operator-stop, crash, oom or unknown: see explainExit for the reasoning. */
export function classifyExit(
  events: readonly ContainerEvent[],
  container: string,
  around: ExitContext = {},
): ExitClassification {
  return explainExit(events, container, around).classification;
}
