import { createHash } from 'node:crypto';
import type { CheckResult } from '../checks/types.ts';
import type { ServiceState } from '../judge/state.ts';
import type { Finding, ProposalInput } from './types.ts';

/**
 * Deterministic diagnosis: evidence in, findings and fix proposals out. Pure functions, so
 * every analyzer is tested on its own; the evidence is collected elsewhere (through the tool
 * server) and the LLM, when there is one, only adds a hypothesis beside these.
 */

export interface ContainerFacts {
  name: string;
  state: string;
  health?: string | undefined;
  exitCode?: number | undefined;
  oomKilled?: boolean | undefined;
  restartCount?: number | undefined;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  labels?: Record<string, string> | undefined;
  memoryLimitBytes?: number | undefined;
}

export interface DiagnosisEvidence {
  service: string;
  container?: string | undefined;
  inspect?: ContainerFacts | undefined;
  /** The tail of the container's logs (untrusted text). */
  logs?: string | undefined;
  /** How the container last stopped, from the engine's event stream. */
  exitKind?: 'operator-stop' | 'crash' | 'oom' | 'unknown' | undefined;
  /** The events that decided `exitKind`, in words. */
  exitBasis?: string | undefined;
  /** The round's check results that failed or degraded. */
  failing: CheckResult[];
  /** Each dependency's state, and whether its last round failed (it may not be down yet). */
  dependencies: { name: string; state: ServiceState; failing?: boolean }[];
  restartsInWindow?: number | undefined;
  /** Restarts since the previous round (the engine's restart policy brought it back). */
  restartsSinceLast?: number | undefined;
  /** `docker stats` of a running container. */
  stats?: { cpuPercent: number; memoryPercent: number; memoryBytes: number } | undefined;
  /** Mounts of the control plane's host over 95 % full (host_info). */
  fullDisks?: { mountpoint: string; usedPercent: number }[] | undefined;
  /** Evidence that could not be collected, and why. */
  gaps: string[];
}

const ERROR_LINE =
  /\b(error|exception|fatal|panic|failed|refused|traceback|denied|cannot|unable)\b/i;

/** The last error-like log line with the variable parts (times, ids, numbers) masked. */
export function logSignature(logs: string | undefined): string {
  if (logs === undefined) return '';
  const lines = logs.split('\n').filter((l) => ERROR_LINE.test(l));
  const last = lines[lines.length - 1];
  if (last === undefined) return '';
  return last
    .toLowerCase()
    .replace(/\d{4}-\d\d-\d\d[t ][\d:.]+z?/g, '#')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '#')
    .replace(/\b[0-9a-f]{8,}\b/g, '#')
    .replace(/\d+(\.\d+)*/g, '#')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/**
 * Whether the container's last exit was an OOM kill: the engine's `oom` event, or OOMKilled on
 * a container that is not running. Docker keeps OOMKilled true after the container is started
 * again (it describes the last exit; seen on 20.10), so on a running container it is history,
 * not a finding.
 */
function oomKilledLastExit(ev: Pick<DiagnosisEvidence, 'inspect' | 'exitKind'>): boolean {
  if (ev.exitKind === 'oom') return true;
  return ev.inspect?.oomKilled === true && ev.inspect.state !== 'running';
}

/** What identifies a failure pattern across incidents. */
export function fingerprintOf(ev: DiagnosisEvidence): { fingerprint: string; signature: string } {
  const checks = ev.failing
    .map((c) => `${c.check}:${c.evidence.error?.code ?? c.evidence.httpStatus ?? c.status}`)
    .sort();
  const exit =
    ev.inspect?.state === 'exited' || ev.inspect?.state === 'dead'
      ? `exit=${ev.inspect.exitCode ?? '?'}`
      : '';
  const oom = oomKilledLastExit(ev) ? 'oom' : '';
  const signature = [ev.service, checks.join(','), exit, oom, logSignature(ev.logs)]
    .filter(Boolean)
    .join(' | ');
  return {
    fingerprint: createHash('sha256').update(signature).digest('hex').slice(0, 16),
    signature,
  };
}

const CONFIG_ERROR =
  /(invalid|unknown|unrecognized|missing|bad) (config|configuration|option|setting|directive|parameter)|configuration (error|file)|yaml: |toml: |parse error|syntax error|environment variable .* (is )?(not set|required)/i;
const DISK_FULL = /no space left on device|disk (is )?full|ENOSPC/i;
/** Image mounts that are always 100 % "used" (snaps, CD images). */
const READ_ONLY_FS = /^\/snap\/|^\/media\/cdrom/;
const APP_ERROR = /\b(error|exception|fatal|panic|traceback)\b/i;

const has = (
  failing: readonly CheckResult[],
  pred: (c: CheckResult) => boolean,
): CheckResult | undefined => failing.find(pred);

/** Lines of the logs matching a pattern, last few, as evidence. */
function matching(logs: string | undefined, pattern: RegExp, max = 3): string[] {
  if (logs === undefined) return [];
  return logs
    .split('\n')
    .filter((l) => pattern.test(l))
    .slice(-max)
    .map((l) => l.slice(0, 300));
}

/** Every analyzer, in order; each returns at most one finding. */
export const ANALYZERS: readonly ((ev: DiagnosisEvidence) => Finding | undefined)[] = [
  function unmanaged(ev) {
    if (ev.inspect?.labels?.['datamancy.manage'] !== 'false') return undefined;
    return {
      id: 'unmanaged',
      summary: `${ev.inspect.name} is labelled datamancy.manage=false: Datamancy never changes it`,
      confidence: 1,
      evidence: ['label datamancy.manage=false'],
      blocksAction: 'the container is labelled datamancy.manage=false',
    };
  },
  function operatorStopped(ev) {
    if (
      ev.exitKind !== 'operator-stop' ||
      ev.inspect === undefined ||
      ev.inspect.state === 'running'
    )
      return undefined;
    return {
      id: 'operator-stopped',
      summary: `${ev.inspect.name} was stopped by an operator (stop/kill before it died), not crashed`,
      confidence: 0.95,
      evidence: [
        ev.exitBasis ??
          `engine events: stopped by the engine's API; exit code ${ev.inspect.exitCode ?? '?'}`,
      ],
      blocksAction: 'an operator stopped the container',
    };
  },
  function dependencyDown(ev) {
    // A dependency failing its checks counts before its state says down (its threshold may
    // not be reached yet): healing the dependent then would treat a symptom.
    const down = ev.dependencies.filter(
      (d) => d.state === 'down' || d.state === 'blocked' || d.failing === true,
    );
    if (down.length === 0) return undefined;
    return {
      id: 'dependency-down',
      summary: `depends on ${down.map((d) => d.name).join(', ')}, which ${down.length === 1 ? 'is' : 'are'} failing`,
      confidence: 0.8,
      evidence: down.map(
        (d) => `${d.name}: ${d.state}${d.failing === true ? ' (last round failed)' : ''}`,
      ),
    };
  },
  function oomKilled(ev) {
    if (ev.inspect === undefined || !oomKilledLastExit(ev)) return undefined;
    return {
      id: 'oom-killed',
      summary: `${ev.inspect.name} was killed for running out of memory${ev.inspect.memoryLimitBytes ? ` (limit ${Math.round(ev.inspect.memoryLimitBytes / 2 ** 20)} MiB)` : ''}`,
      confidence: 0.95,
      evidence: [
        `OOMKilled ${String(ev.inspect.oomKilled)}, exit code ${ev.inspect.exitCode ?? '?'}`,
      ],
    };
  },
  function restartLoop(ev) {
    const looping = ev.inspect?.state === 'restarting' || (ev.restartsInWindow ?? 0) >= 3;
    if (!looping || ev.inspect === undefined) return undefined;
    return {
      id: 'restart-loop',
      summary: `${ev.inspect.name} keeps restarting (restart count ${ev.inspect.restartCount ?? '?'})`,
      confidence: 0.9,
      evidence: [
        `state ${ev.inspect.state}, ${ev.restartsInWindow ?? '?'} restarts in the window`,
        ...matching(ev.logs, APP_ERROR),
      ],
    };
  },
  function engineRestarted(ev) {
    const facts = ev.inspect;
    if (facts?.state !== 'running' || (ev.restartsSinceLast ?? 0) === 0) return undefined;
    if ((ev.restartsInWindow ?? 0) >= 3 || oomKilledLastExit(ev)) return undefined;
    const how =
      ev.exitKind === 'crash'
        ? 'crashed'
        : ev.exitKind === 'operator-stop'
          ? 'was stopped'
          : 'exited';
    return {
      id: 'engine-restarted',
      summary: `${facts.name} ${how} and the engine's restart policy started it again (restart count ${facts.restartCount ?? '?'})`,
      confidence: 0.9,
      evidence: [
        ev.exitBasis ?? 'no engine events read about the last exit',
        `running since ${facts.startedAt ?? '?'}, last exit ${facts.finishedAt ?? '?'}`,
        ...matching(ev.logs, APP_ERROR),
      ],
    };
  },
  function crashed(ev) {
    const facts = ev.inspect;
    if (facts === undefined || (facts.state !== 'exited' && facts.state !== 'dead'))
      return undefined;
    if (oomKilledLastExit(ev) || ev.exitKind === 'operator-stop') return undefined;
    const code = facts.exitCode ?? -1;
    const how =
      code === 137
        ? 'killed (SIGKILL, exit 137)'
        : code === 143
          ? 'terminated (SIGTERM, exit 143)'
          : `exited with code ${code}`;
    return {
      id: 'crashed',
      summary: `${facts.name} ${how}`,
      confidence: 0.9,
      evidence: [
        `state ${facts.state}, finished ${facts.finishedAt ?? '?'}`,
        ...matching(ev.logs, APP_ERROR),
      ],
    };
  },
  function configError(ev) {
    const lines = matching(ev.logs, CONFIG_ERROR);
    if (lines.length === 0) return undefined;
    return {
      id: 'config-error',
      summary: 'the logs show a configuration error',
      confidence: 0.75,
      evidence: lines,
    };
  },
  function diskFull(ev) {
    const lines = matching(ev.logs, DISK_FULL);
    if (lines.length === 0) return undefined;
    return {
      id: 'disk-full',
      summary: 'the logs say the disk is full',
      confidence: 0.85,
      evidence: lines,
    };
  },
  function hostDiskFull(ev) {
    // Informational: the control plane's host may not be where the container's data lives.
    const disks = (ev.fullDisks ?? []).filter((d) => !READ_ONLY_FS.test(d.mountpoint));
    if (disks.length === 0) return undefined;
    return {
      id: 'host-disk-full',
      summary: `${disks.map((d) => d.mountpoint).join(', ')} on the control plane's host nearly full`,
      confidence: 0.4,
      evidence: disks.map((d) => `${d.mountpoint}: ${d.usedPercent} % used`),
    };
  },
  function starting(ev) {
    if (ev.inspect?.state !== 'running' || ev.inspect.health !== 'starting') return undefined;
    return {
      id: 'starting',
      summary: `${ev.inspect.name} is still starting (its healthcheck has not passed yet)`,
      confidence: 0.6,
      evidence: [`health: starting, started ${ev.inspect.startedAt ?? '?'}`],
    };
  },
  function portClosed(ev) {
    if (ev.inspect?.state !== 'running') return undefined;
    const refused = has(ev.failing, (c) => c.evidence.error?.code === 'ECONNREFUSED');
    if (refused === undefined) return undefined;
    return {
      id: 'port-closed',
      summary: `the container runs but ${refused.evidence.url ?? 'its port'} refuses connections`,
      confidence: 0.8,
      evidence: [`${refused.check}: ${refused.message}`],
    };
  },
  function hung(ev) {
    if (ev.inspect?.state !== 'running') return undefined;
    const timeout = has(ev.failing, (c) => c.evidence.error?.code === 'TIMEOUT');
    if (timeout === undefined) return undefined;
    return {
      id: 'hung',
      summary: `the container runs but ${timeout.evidence.url ?? 'it'} does not answer in time`,
      confidence: 0.75,
      evidence: [`${timeout.check}: ${timeout.message}`],
    };
  },
  function appError(ev) {
    const server = has(
      ev.failing,
      (c) => (c.evidence.httpStatus ?? 0) >= 500 || (c.evidence.signatures?.length ?? 0) > 0,
    );
    if (server === undefined) return undefined;
    const lines = matching(ev.logs, APP_ERROR);
    return {
      id: 'app-error',
      summary: `${server.check} answers ${server.evidence.httpStatus ?? 'an error page'}${lines.length > 0 ? ' and the logs show errors' : ''}`,
      confidence: lines.length > 0 ? 0.75 : 0.5,
      evidence: [`${server.check}: ${server.message}`, ...lines],
    };
  },
  function tlsExpired(ev) {
    const expired = has(ev.failing, (c) =>
      c.evidence.reasons.some((r) => /TLS certificate (expired|expires)/.test(r)),
    );
    if (expired === undefined) return undefined;
    return {
      id: 'tls-expiry',
      summary: `${expired.evidence.url ?? expired.check}: ${expired.evidence.reasons.find((r) => /TLS/.test(r)) ?? 'certificate'}`,
      confidence: 0.9,
      evidence: [JSON.stringify(expired.evidence.certificate ?? {})],
    };
  },
];

/**
 * Facts that a page's content cannot write: a failing status, a connection that fails, a
 * title that is the error, a failing container or TCP check, the container's own state
 * (not running, unhealthy, OOM-killed, restarting, crashed). Never text: not the page's
 * content and not the container's logs, which its users can write as easily.
 */
export function corroboration(ev: DiagnosisEvidence): string[] {
  const out: string[] = [];
  for (const c of ev.failing) {
    const status = c.evidence.httpStatus;
    if (status !== undefined && status >= 500) out.push(`${c.check} answered ${status}`);
    if (c.evidence.error !== undefined) out.push(`${c.check}: ${c.evidence.error.code}`);
    if (c.evidence.signatures?.some((s) => s.where === 'title') === true)
      out.push(`${c.check}: the page's title is the error`);
    if (c.kind === 'container' || c.kind === 'tcp') out.push(`${c.check} (${c.kind}) fails`);
  }
  const facts = ev.inspect;
  if (facts !== undefined) {
    if (facts.state !== 'running') out.push(`container ${facts.state}`);
    if (facts.health === 'unhealthy') out.push('container unhealthy');
    if (oomKilledLastExit(ev)) out.push('container OOM-killed');
  }
  if (ev.exitKind === 'crash' || ev.exitKind === 'oom') out.push(`engine events: ${ev.exitKind}`);
  if ((ev.restartsInWindow ?? 0) >= 3) out.push(`${ev.restartsInWindow} restarts in the window`);
  // Log lines do not count: apps log what their users send ("search: FATAL out of memory"),
  // so a log is as writable by an attacker as the page. Only the engine's facts corroborate.
  return out;
}

/**
 * Why a proposal rests on untrusted page text only, or undefined when it does not. An error
 * phrase in the content of a page that answered successfully may be anyone's words (a forum
 * post quoting "502 Bad Gateway"): it fails the check and opens an incident, but on its own
 * it never acts unattended. Policy turns the reason into "waits for a person".
 */
export function uncorroboratedPageText(
  ev: DiagnosisEvidence,
  proposal: Pick<ProposalInput, 'finding'>,
): string | undefined {
  if (proposal.finding !== 'app-error') return undefined;
  const textual = ev.failing.find((c) => c.evidence.signatures?.some((s) => s.where === 'text'));
  if (textual === undefined || corroboration(ev).length > 0) return undefined;
  const match = textual.evidence.signatures?.find((s) => s.where === 'text');
  return `the only sign of trouble is an error phrase in the content of a page that answered ${textual.evidence.httpStatus ?? 'successfully'} (${textual.check}: "${(match?.excerpt ?? '').slice(0, 120)}"), which the page's users may have written; no failing status, error title or container evidence corroborates it`;
}

export function analyze(ev: DiagnosisEvidence): Finding[] {
  return ANALYZERS.map((a) => a(ev)).filter((f): f is Finding => f !== undefined);
}

export interface ProposeOptions {
  /** Memory cap for `scale_memory`, in MiB. */
  maxMemoryMb: number;
  /**
   * Commands the operator configured for a finding on this service (run with `docker_exec`,
   * which checks its own allowlist too), tried before a restart.
   */
  remedies?: readonly { finding: string; argv: readonly string[] }[];
}

/**
 * Fix proposals for the findings. Nothing is proposed when a finding blocks action, and for
 * a dependency that is down (its own incident heals it). The order is the order to try.
 */
export function propose(
  ev: DiagnosisEvidence,
  findings: readonly Finding[],
  options: ProposeOptions,
): ProposalInput[] {
  if (findings.some((f) => f.blocksAction !== undefined)) return [];
  const ids = new Set(findings.map((f) => f.id));
  if (ids.has('dependency-down')) return [];
  const container = ev.inspect?.name ?? ev.container;
  if (container === undefined) return [];
  const out: ProposalInput[] = [];
  if (ids.has('config-error')) {
    out.push({
      action: 'config_change',
      parameters: { container },
      confidence: 0.6,
      reasoning:
        'the logs show a configuration error: a restart would fail the same way; a person must fix the configuration',
      finding: 'config-error',
    });
    return out;
  }
  if (ids.has('disk-full')) {
    out.push({
      action: 'data_migration',
      parameters: { container },
      confidence: 0.5,
      reasoning: 'the disk is full: free or move data before restarting',
      finding: 'disk-full',
    });
    return out;
  }
  if (ids.has('tls-expiry')) {
    out.push({
      action: 'security_update',
      parameters: { container },
      confidence: 0.6,
      reasoning: 'renew the TLS certificate',
      finding: 'tls-expiry',
    });
    return out;
  }
  if (ids.has('oom-killed')) {
    const current = ev.inspect?.memoryLimitBytes ?? 0;
    if (current > 0) {
      const next = Math.min(options.maxMemoryMb, Math.ceil((current * 1.5) / 2 ** 20));
      if (next * 2 ** 20 > current) {
        out.push({
          action: 'scale_memory',
          parameters: { container, memory_mb: next },
          confidence: 0.7,
          reasoning: `OOM kill at ${Math.round(current / 2 ** 20)} MiB: raise the limit to ${next} MiB (cap ${options.maxMemoryMb} MiB), then start it`,
          finding: 'oom-killed',
        });
      }
    }
    out.push({
      action: 'start',
      parameters: { container },
      confidence: 0.6,
      reasoning: 'start the OOM-killed container again',
      finding: 'oom-killed',
    });
    return out;
  }
  if (ids.has('restart-loop')) {
    out.push({
      action: 'recreate',
      parameters: { container },
      confidence: 0.5,
      reasoning:
        'it keeps crashing on its own restarts: restarting again will not help; recreate it (or fix what the logs show) after review',
      finding: 'restart-loop',
    });
    return out;
  }
  if (ids.has('starting') && !ids.has('port-closed')) {
    out.push({
      action: 'wait_for_health',
      parameters: { container, timeout_s: 60 },
      confidence: 0.6,
      reasoning: 'it is still starting: wait for its healthcheck before anything else',
      finding: 'starting',
    });
    return out;
  }
  const remedy = options.remedies?.find((r) => ids.has(r.finding));
  if (remedy !== undefined) {
    out.push({
      action: 'exec',
      parameters: { container, argv: [...remedy.argv] },
      confidence: 0.7,
      reasoning: `the operator's remedy for ${remedy.finding}: ${remedy.argv.join(' ')}`,
      finding: remedy.finding,
    });
    return out;
  }
  if (ids.has('engine-restarted')) {
    // nothing to repair: make sure it came back whole, then the probe's own checks verify
    out.push({
      action: 'wait_for_health',
      parameters: { container, timeout_s: 60 },
      confidence: 0.8,
      reasoning:
        "the engine's restart policy already started it again: wait for its healthcheck, then verify with the checks that saw it",
      finding: 'engine-restarted',
    });
    return out;
  }
  if (ids.has('crashed')) {
    out.push({
      action: 'start',
      parameters: { container },
      confidence: 0.85,
      reasoning: 'the process exited: start the container again',
      finding: 'crashed',
    });
    return out;
  }
  for (const id of ['port-closed', 'hung', 'app-error'] as const) {
    if (ids.has(id)) {
      out.push({
        action: 'restart',
        parameters: { container },
        confidence: id === 'app-error' ? 0.65 : 0.8,
        reasoning: `${findings.find((f) => f.id === id)?.summary ?? id}: restart the container`,
        finding: id,
      });
      return out;
    }
  }
  return out;
}
