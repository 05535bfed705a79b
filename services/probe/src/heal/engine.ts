import { AppError, hasScope, type Identity, type Logger } from '@datamancy/core';
import type { CheckResult } from '../checks/types.ts';
import type { Orchestrator, RoundReport } from '../runtime/orchestrator.ts';
import {
  analyze,
  fingerprintOf,
  propose,
  uncorroboratedPageText,
  type ContainerFacts,
  type DiagnosisEvidence,
} from './diagnose.ts';
import { shouldNotify, type NotificationKind, type Send } from './notify.ts';
import { decide, learn, maxMemoryOf, type HealConfig } from './policy.ts';
import type { HealStore } from './store.ts';
import type { ActionRecord, Finding, Incident, Proposal, ProposalInput } from './types.ts';

/** Calls a tool-server tool and returns its `result` (the probe never touches the engine itself). */
export type ToolCaller = (
  name: string,
  args: Record<string, unknown>,
  signal?: AbortSignal,
) => Promise<unknown>;

export interface HealEngineOptions {
  store: HealStore;
  orchestrator: Orchestrator;
  config: HealConfig;
  /** Absent: no container evidence and no actions (incidents and findings only). */
  tools?: ToolCaller | undefined;
  send: Send;
  logger: Logger;
  now?: () => number;
}

const ACTING_STAGES = new Set(['acting', 'verifying']);
const LOG_TAIL = 100;

/** The answer of `docker_inspect` this engine reads. */
interface Inspected {
  name: string;
  state: string;
  health?: string;
  exitCode?: number;
  oomKilled?: boolean;
  restartCount?: number;
  startedAt?: string;
  finishedAt?: string;
  labels?: Record<string, string>;
  memoryLimitBytes?: number;
}

function facts(i: Inspected): ContainerFacts {
  return {
    name: i.name,
    state: i.state,
    health: i.health,
    exitCode: i.exitCode,
    oomKilled: i.oomKilled,
    restartCount: i.restartCount,
    startedAt: i.startedAt,
    finishedAt: i.finishedAt,
    labels: i.labels,
    memoryLimitBytes: i.memoryLimitBytes,
  };
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The healing loop: incident → diagnosis → proposals → policy → act (or ask) → verify → learn.
 * One thing at a time per service (a queue per service); everything is written to the store
 * before it is done, so a restart resumes instead of repeating.
 */
export class HealEngine {
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #now: () => number;
  #closed = false;

  constructor(private readonly o: HealEngineOptions) {
    this.#now = o.now ?? Date.now;
  }

  /** Runs `fn` after everything queued for the service. */
  #serial<T>(service: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(service) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch((err: unknown) =>
      this.o.logger.error({ err, service }, 'healing step failed'),
    );
    this.#queues.set(service, settled);
    void settled.then(() => {
      if (this.#queues.get(service) === settled) this.#queues.delete(service);
    });
    return next;
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) fn();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }

  async #event(
    incident: Incident | number,
    kind: string,
    message: string,
    detail?: unknown,
  ): Promise<void> {
    const id = typeof incident === 'number' ? incident : incident.id;
    await this.o.store.addEvent(id, this.#now(), kind, message, detail);
    this.o.logger.info({ incident: id, kind, detail: undefined }, message);
  }

  async #notify(incident: Incident, kind: NotificationKind, message: string): Promise<void> {
    const fresh = (await this.o.store.incident(incident.id)) ?? incident;
    if (!shouldNotify(fresh, kind)) return;
    await this.o.store.updateIncident(
      incident.id,
      { notified: [...fresh.notified, kind] },
      this.#now(),
    );
    await this.#event(incident, 'notified', `notified: ${kind}`, { message });
    await this.o.send({
      kind,
      incidentId: incident.id,
      service: incident.service,
      message,
      at: new Date(this.#now()).toISOString(),
    });
  }

  /** Called after every judged round. */
  onRound(report: RoundReport): void {
    if (this.#closed) return;
    void this.#serial(report.name, () => this.#handle(report));
  }

  async #handle(report: RoundReport): Promise<void> {
    const open = await this.o.store.openIncidentFor(report.name);
    if (open !== undefined && ACTING_STAGES.has(open.stage)) return; // the action's own verification decides
    // The engine restarting a container (its restart policy, after a crash or an OOM kill) is
    // a fact seen once, not a flaky observation to confirm over rounds: it opens an incident
    // whatever the state, and even when a later round has passed meanwhile (the only round
    // that reports the restart must not be dropped as stale), so the loop finds out why and
    // verifies what came back.
    const restarted = report.checks.some((c) => (c.evidence.container?.restartsSinceLast ?? 0) > 0);
    if (restarted && open === undefined) {
      await this.#openIncident(report);
      return;
    }
    // A later round already changed the verdict (e.g. a verification round finished first):
    // this report is stale, acting on it would repair what is already repaired.
    if (this.o.orchestrator.view(report.name)?.state !== report.state) return;
    if (report.state === 'down' || report.state === 'degraded') {
      if (open === undefined) await this.#openIncident(report);
      else if (open.stage === 'diagnosing')
        await this.#proposeAndAct(open, await this.#collect(report));
      return;
    }
    if (report.state === 'blocked' && report.blockedBy !== null) {
      const root = await this.o.store.openIncidentFor(report.blockedBy);
      if (root !== undefined && !root.dependents.includes(report.name)) {
        await this.o.store.updateIncident(
          root.id,
          { dependents: [...root.dependents, report.name] },
          this.#now(),
        );
        await this.#event(root, 'dependent', `${report.name} is blocked by ${root.service}`);
      }
      return;
    }
    if (report.state === 'up' && open !== undefined) {
      const acted = (await this.o.store.actions({ incidentId: open.id })).some(
        (a) => a.status === 'done',
      );
      await this.#resolve(
        open,
        acted ? 'recovered after an earlier action' : 'recovered without an action',
      );
    }
  }

  /** Evidence for a diagnosis, through the tool server; what cannot be had is noted as a gap. */
  async #collect(report: RoundReport): Promise<DiagnosisEvidence> {
    const spec = this.o.orchestrator.services.find((s) => s.name === report.name);
    const container =
      spec?.container ?? spec?.checks.find((c) => c.kind === 'container')?.container ?? report.name;
    const failing: CheckResult[] = report.checks.filter(
      (c) => c.status === 'fail' || c.status === 'degraded',
    );
    const ev: DiagnosisEvidence = {
      service: report.name,
      container,
      failing,
      dependencies: (spec?.dependsOn ?? []).map((name) => {
        const view = this.o.orchestrator.view(name);
        return { name, state: view?.state ?? 'pending', failing: view?.lastOutcome === 'fail' };
      }),
      restartsInWindow: report.checks.find(
        (c) => c.evidence.container?.restartsInWindow !== undefined,
      )?.evidence.container?.restartsInWindow,
      restartsSinceLast: report.checks.find(
        (c) => c.evidence.container?.restartsSinceLast !== undefined,
      )?.evidence.container?.restartsSinceLast,
      gaps: [],
    };
    const tools = this.o.tools;
    if (tools === undefined) {
      ev.gaps.push('no tool server configured: no container evidence');
      return ev;
    }
    try {
      ev.inspect = facts((await tools('docker_inspect', { container })) as Inspected);
    } catch (err) {
      ev.gaps.push(`docker_inspect: ${errText(err)}`);
      return ev;
    }
    try {
      const logs = (await tools('docker_logs', { container, tail: LOG_TAIL })) as {
        lines: { text: string }[];
      };
      ev.logs = logs.lines.map((l) => l.text).join('\n');
    } catch (err) {
      ev.gaps.push(`docker_logs: ${errText(err)}`);
    }
    if (ev.inspect.state === 'running') {
      try {
        ev.stats = (await tools('docker_stats', { container })) as DiagnosisEvidence['stats'];
      } catch (err) {
        ev.gaps.push(`docker_stats: ${errText(err)}`);
      }
    }
    try {
      const host = (await tools('host_info', {})) as {
        disks?: { mountpoint: string; usedPercent: number }[];
      };
      ev.fullDisks = (host.disks ?? [])
        .filter((d) => d.usedPercent >= 95)
        .map((d) => ({ mountpoint: d.mountpoint, usedPercent: d.usedPercent }));
    } catch (err) {
      ev.gaps.push(`host_info: ${errText(err)}`);
    }
    // how it stopped: a stopped container, or a running one the engine's restart policy
    // brought back since the last round (its last exit is the one to explain)
    if (ev.inspect.state !== 'running' || (ev.restartsSinceLast ?? 0) > 0) {
      try {
        const events = (await tools('docker_events', { container, since: '30m' })) as {
          classification?: { classification?: DiagnosisEvidence['exitKind']; basis?: string };
        };
        ev.exitKind = events.classification?.classification;
        ev.exitBasis = events.classification?.basis;
      } catch (err) {
        ev.gaps.push(`docker_events: ${errText(err)}`);
      }
    }
    return ev;
  }

  async #openIncident(report: RoundReport): Promise<void> {
    const ev = await this.#collect(report);
    const { fingerprint, signature } = fingerprintOf(ev);
    const incident = await this.o.store.openIncident({
      service: report.name,
      fingerprint,
      signature,
      at: this.#now(),
    });
    await this.#event(
      incident,
      'opened',
      `${report.name} is ${report.state}: ${ev.failing.map((c) => `${c.check}: ${c.message}`).join('; ') || 'no check detail'}`,
      {
        failing: ev.failing,
        transition: report.transition,
      },
    );
    const seen = await this.o.store.recurrences(fingerprint, incident.id);
    if (seen > 0)
      await this.#event(
        incident,
        'recurrence',
        `seen ${seen} time(s) before (fingerprint ${fingerprint})`,
      );
    const verdict = report.llmVerdict as
      { verdict?: { rootCause?: string; reasons?: string[] } } | undefined;
    if (verdict?.verdict !== undefined) {
      await this.#event(
        incident,
        'hypothesis',
        `LLM hypothesis: ${verdict.verdict.rootCause ?? verdict.verdict.reasons?.join('; ') ?? '?'}`,
        verdict,
      );
    }
    await this.#proposeAndAct(incident, ev);
  }

  async #proposeAndAct(incident: Incident, ev: DiagnosisEvidence): Promise<Proposal | undefined> {
    const findings = analyze(ev);
    const same = (a: readonly Finding[], b: readonly Finding[]): boolean =>
      a.map((f) => f.id).join() === b.map((f) => f.id).join();
    // Still waiting on a failing dependency: nothing new to say or do this round.
    if (findings.some((f) => f.id === 'dependency-down') && same(findings, incident.findings))
      return undefined;
    await this.o.store.updateIncident(incident.id, { findings }, this.#now());
    await this.#event(
      incident,
      'diagnosis',
      findings.length === 0 ? 'no analyzer matched' : findings.map((f) => f.summary).join('; '),
      {
        findings,
        gaps: ev.gaps,
        inspect: ev.inspect,
      },
    );
    const blocking = findings.find((f) => f.blocksAction !== undefined);
    if (blocking !== undefined) {
      await this.o.store.updateIncident(incident.id, { stage: 'escalated' }, this.#now());
      await this.#event(incident, 'hands-off', `no action: ${blocking.blocksAction ?? ''}`);
      return undefined;
    }
    if (findings.some((f) => f.id === 'dependency-down')) {
      await this.#event(incident, 'waiting', 'waiting for the dependency to be healed first');
      return undefined;
    }
    const inputs = propose(ev, findings, {
      maxMemoryMb: maxMemoryOf(this.o.config, incident.service),
      remedies: this.o.config.services[incident.service]?.remedies ?? [],
    });
    const first = inputs[0];
    if (first === undefined) {
      await this.o.store.updateIncident(incident.id, { stage: 'escalated' }, this.#now());
      await this.#event(incident, 'escalated', 'no fix to propose for these findings');
      await this.#notify(
        incident,
        'automation_failed',
        `${incident.service}: no automatic fix for ${findings.map((f) => f.id).join(', ') || 'an unknown failure'}`,
      );
      return undefined;
    }
    return this.#decideAndRecord(incident, first, findings, uncorroboratedPageText(ev, first));
  }

  async #decideAndRecord(
    incident: Incident,
    input: ProposalInput,
    findings: readonly Finding[],
    untrustedOnly: string | undefined,
  ): Promise<Proposal | undefined> {
    const now = this.#now();
    const spec = this.o.orchestrator.services.find((s) => s.name === incident.service);
    const decision = decide(this.o.config, {
      service: incident.service,
      action: input.action,
      now,
      blockedBy: findings.find((f) => f.blocksAction !== undefined)?.blocksAction,
      inMaintenance: spec !== undefined && this.o.orchestrator.inMaintenance(spec, now),
      recentActions: (await this.o.store.actions({ service: incident.service })).map(
        (a) => a.startedAt,
      ),
      pattern: await this.o.store.pattern(incident.fingerprint, input.action),
      untrustedOnly,
    });
    if (decision.verdict === 'defer') {
      await this.#event(incident, 'deferred', decision.reason);
      this.#later(decision.retryAt - now + 50, () => {
        void this.#serial(incident.service, async () => {
          const view = this.o.orchestrator.view(incident.service);
          const open = await this.o.store.openIncidentFor(incident.service);
          if (open?.id !== incident.id || open.stage !== 'diagnosing' || view === undefined) return;
          if (view.state === 'down' || view.state === 'degraded') {
            await this.#proposeAndAct(
              open,
              await this.#collect({ ...view, outcome: view.lastOutcome, alert: false }),
            );
          }
        });
      });
      return undefined;
    }
    const preview = await this.#preview(input);
    const status =
      decision.verdict === 'auto'
        ? 'approved'
        : decision.verdict === 'approval'
          ? 'awaiting_approval'
          : 'refused';
    const proposal = await this.o.store.addProposal({
      ...input,
      incidentId: incident.id,
      service: incident.service,
      createdAt: now,
      safety: decision.safety,
      preview,
      status,
      decision: decision.reason,
      expiresAt:
        status === 'awaiting_approval' ? now + this.o.config.approvalTtlMinutes * 60_000 : null,
    });
    await this.#event(
      incident,
      'proposal',
      `proposed ${input.action} (${decision.safety}): ${decision.reason}`,
      { proposalId: proposal.id, reasoning: input.reasoning },
    );
    if (decision.verdict === 'auto') {
      if (proposal.decidedBy === null)
        await this.o.store.transitionProposal(proposal.id, ['approved'], 'approved', {
          by: 'policy',
          at: now,
        });
      await this.#execute(incident, proposal.id);
    } else if (decision.verdict === 'approval') {
      await this.o.store.updateIncident(incident.id, { stage: 'awaiting_approval' }, now);
      await this.#notify(
        incident,
        'approval_needed',
        `${incident.service}: ${input.action} needs approval (proposal ${proposal.id}): ${input.reasoning}`,
      );
    } else {
      await this.o.store.updateIncident(incident.id, { stage: 'escalated' }, now);
      await this.#event(incident, 'escalated', decision.reason);
      await this.#notify(
        incident,
        decision.circuitOpen === true ? 'circuit_open' : 'automation_failed',
        `${incident.service}: ${decision.reason}`,
      );
    }
    return (await this.o.store.proposal(proposal.id)) ?? proposal;
  }

  /** The tool's dry run: target, current state, dependents (best effort). */
  async #preview(input: ProposalInput): Promise<unknown> {
    const tool = TOOL_OF[input.action];
    if (tool === undefined || this.o.tools === undefined) return null;
    try {
      return await this.o.tools(tool, { ...toolArgs(input), dry_run: true });
    } catch (err) {
      return { error: errText(err) };
    }
  }

  /** Runs an approved proposal, then verifies it with the service's own checks. */
  async #execute(incident: Incident, proposalId: number): Promise<void> {
    const proposal = await this.o.store.proposal(proposalId);
    if (proposal === undefined || proposal.status !== 'approved') return;
    const tools = this.o.tools;
    const now = this.#now();
    if (tools === undefined) {
      await this.o.store.transitionProposal(proposal.id, ['approved'], 'failed');
      await this.o.store.updateIncident(incident.id, { stage: 'escalated' }, now);
      await this.#notify(
        incident,
        'automation_failed',
        `${incident.service}: no tool server to carry out ${proposal.action}`,
      );
      return;
    }
    await this.o.store.updateIncident(incident.id, { stage: 'acting' }, now);
    const before = await this.#snapshot(proposal);
    const action = await this.o.store.startAction({
      proposalId: proposal.id,
      incidentId: incident.id,
      service: incident.service,
      action: proposal.action,
      parameters: proposal.parameters,
      at: now,
      before,
    });
    await this.#event(
      incident,
      'action',
      `${proposal.action} started (approved by ${proposal.decidedBy ?? 'policy'})`,
      { actionId: action.id, before },
    );
    let after: unknown;
    try {
      after = await this.#run(proposal, tools);
    } catch (err) {
      await this.o.store.finishAction(action.id, {
        status: 'failed',
        at: this.#now(),
        error: errText(err),
      });
      await this.o.store.transitionProposal(proposal.id, ['executing'], 'failed');
      await this.o.store.updateIncident(incident.id, { stage: 'escalated' }, this.#now());
      await this.#event(incident, 'action-failed', `${proposal.action} failed: ${errText(err)}`);
      await this.#notify(
        incident,
        'automation_failed',
        `${incident.service}: ${proposal.action} failed: ${errText(err)}`,
      );
      return;
    }
    await this.o.store.finishAction(action.id, { status: 'done', at: this.#now(), after });
    await this.o.store.transitionProposal(proposal.id, ['executing'], 'executed');
    await this.#event(incident, 'action-done', `${proposal.action} done`, {
      actionId: action.id,
      after,
    });
    await this.#verify(incident, proposal);
  }

  async #snapshot(proposal: Proposal): Promise<unknown> {
    const container = proposal.parameters.container;
    if (typeof container !== 'string' || this.o.tools === undefined) return null;
    try {
      return facts((await this.o.tools('docker_inspect', { container })) as Inspected);
    } catch (err) {
      return { error: errText(err) };
    }
  }

  async #run(proposal: Proposal, tools: ToolCaller): Promise<unknown> {
    const args = toolArgs(proposal);
    switch (proposal.action) {
      case 'scale_memory': {
        const updated = await tools('docker_update_memory', args);
        const started = await tools('docker_start', { container: args.container });
        return { updated, started };
      }
      case 'restart_dependents': {
        const out: unknown[] = [];
        for (const container of (proposal.parameters.containers as string[] | undefined) ?? []) {
          out.push(await tools('docker_restart', { container }));
        }
        return out;
      }
      default: {
        const tool = TOOL_OF[proposal.action];
        if (tool === undefined)
          throw new Error(`${proposal.action} is not something the control plane can do`);
        return tools(tool, args);
      }
    }
  }

  /** Re-runs the service's checks until they pass or the deadline: the fix is proven or not. */
  async #verify(incident: Incident, proposal: Proposal): Promise<void> {
    await this.o.store.updateIncident(incident.id, { stage: 'verifying' }, this.#now());
    const { timeoutS, intervalS } = this.o.config.verify;
    const deadline = this.#now() + timeoutS * 1000;
    let last: RoundReport | undefined;
    for (;;) {
      if (this.#closed) return; // resumed after the restart
      try {
        last = await this.o.orchestrator.probeService(incident.service, 'verify');
      } catch (err) {
        this.o.logger.warn({ err, service: incident.service }, 'verification round failed');
      }
      if (last?.outcome === 'pass' || last?.outcome === 'pass_after_retry') break;
      if (this.#now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, intervalS * 1000));
    }
    const verified = last?.outcome === 'pass' || last?.outcome === 'pass_after_retry';
    const humanApproved = proposal.decidedBy !== null && proposal.decidedBy !== 'policy';
    const previous = await this.o.store.pattern(incident.fingerprint, proposal.action);
    const learned = learn(this.o.config, previous, {
      fingerprint: incident.fingerprint,
      action: proposal.action,
      verified,
      humanApproved,
      now: this.#now(),
    });
    await this.o.store.savePattern(learned.pattern);
    if (learned.change !== undefined) {
      await this.#event(
        incident,
        `autonomy-${learned.change}`,
        learned.change === 'graduated'
          ? `${proposal.action} now runs unattended for this failure pattern (${learned.pattern.approvedSuccesses} approved, verified successes)`
          : `${proposal.action} needs approval again for this failure pattern: its verification failed`,
        learned.pattern,
      );
      this.o.logger.warn(
        { fingerprint: incident.fingerprint, action: proposal.action, change: learned.change },
        'autonomy changed',
      );
    }
    const checks = last?.checks.map((c) => ({
      check: c.check,
      status: c.status,
      message: c.message,
    }));
    if (verified) {
      await this.o.store.transitionProposal(proposal.id, ['executed'], 'verified');
      await this.#event(
        incident,
        'verified',
        `verified: ${incident.service} passes its checks again`,
        { checks },
      );
      await this.#resolve(incident, `healed by ${proposal.action}, verified`);
    } else {
      await this.o.store.transitionProposal(proposal.id, ['executed'], 'failed');
      await this.o.store.updateIncident(incident.id, { stage: 'escalated' }, this.#now());
      await this.#event(
        incident,
        'verification-failed',
        `${proposal.action} did not bring ${incident.service} back within ${timeoutS} s`,
        { checks },
      );
      await this.#notify(
        incident,
        'automation_failed',
        `${incident.service}: ${proposal.action} did not fix it (checks still failing after ${timeoutS} s)`,
      );
    }
  }

  async #resolve(incident: Incident, resolution: string): Promise<void> {
    const now = this.#now();
    await this.o.store.updateIncident(
      incident.id,
      { status: 'resolved', stage: 'resolved', resolution, resolvedAt: now },
      now,
    );
    for (const p of await this.o.store.proposals({
      incidentId: incident.id,
      status: 'awaiting_approval',
    })) {
      await this.o.store.transitionProposal(p.id, ['awaiting_approval'], 'superseded');
    }
    await this.#event(incident, 'resolved', resolution);
    await this.#notify(incident, 'resolved', `${incident.service}: ${resolution}`);
    // Dependents blocked by this service: look at them now rather than at their next round.
    const fresh = await this.o.store.incident(incident.id);
    for (const dependent of fresh?.dependents ?? []) {
      if (this.o.orchestrator.has(dependent))
        void this.o.orchestrator.probeService(dependent, 'manual').catch(() => undefined);
    }
  }

  // ---- humans and the API -------------------------------------------------------------------

  /** Approves a pending proposal as a person and carries it out. */
  async approve(proposalId: number, identity: Identity): Promise<Proposal> {
    requireDecider(identity, 'approve');
    const proposal = await this.#pending(proposalId);
    return this.#serial(proposal.service, async () => {
      const moved = await this.o.store.transitionProposal(
        proposalId,
        ['awaiting_approval'],
        'approved',
        {
          by: identity.name,
          at: this.#now(),
        },
      );
      if (!moved) throw stateError(`proposal ${proposalId} is no longer awaiting approval`);
      const incident = await this.o.store.incident(proposal.incidentId);
      if (incident === undefined) throw stateError(`proposal ${proposalId} has no incident`);
      await this.#event(
        incident,
        'approved',
        `${identity.name} approved ${proposal.action} (proposal ${proposalId})`,
        { via: identity.via },
      );
      await this.#execute(incident, proposalId);
      return (await this.o.store.proposal(proposalId)) ?? proposal;
    });
  }

  async reject(proposalId: number, identity: Identity, reason: string): Promise<Proposal> {
    requireDecider(identity, 'reject');
    const proposal = await this.#pending(proposalId);
    const moved = await this.o.store.transitionProposal(
      proposalId,
      ['awaiting_approval'],
      'rejected',
      {
        by: identity.name,
        at: this.#now(),
        decision: `rejected: ${reason}`,
      },
    );
    if (!moved) throw stateError(`proposal ${proposalId} is no longer awaiting approval`);
    await this.o.store.updateIncident(proposal.incidentId, { stage: 'escalated' }, this.#now());
    await this.#event(
      proposal.incidentId,
      'rejected',
      `${identity.name} rejected ${proposal.action}: ${reason}`,
    );
    return (await this.o.store.proposal(proposalId)) ?? proposal;
  }

  async #pending(proposalId: number): Promise<Proposal> {
    await this.expireApprovals();
    const proposal = await this.o.store.proposal(proposalId);
    if (proposal === undefined) throw stateError(`no proposal ${proposalId}`, 'NOT_FOUND');
    if (proposal.status !== 'awaiting_approval') {
      throw stateError(`proposal ${proposalId} is ${proposal.status}, not awaiting approval`);
    }
    return proposal;
  }

  /** Lapses approvals past their time. */
  async expireApprovals(): Promise<number> {
    let n = 0;
    for (const p of await this.o.store.proposals({ status: 'awaiting_approval' })) {
      if (p.expiresAt !== null && p.expiresAt <= this.#now()) {
        if (await this.o.store.transitionProposal(p.id, ['awaiting_approval'], 'expired')) {
          n += 1;
          await this.#event(
            p.incidentId,
            'expired',
            `approval of ${p.action} (proposal ${p.id}) lapsed`,
          );
        }
      }
    }
    return n;
  }

  /**
   * `POST /execute-fix`: runs a proposal that a person approved and that has not run, or an
   * unrun safe one the policy still allows. Anything else is refused.
   */
  async executeFix(proposalId: number, identity: Identity): Promise<Proposal> {
    requireDecider(identity, 'run a fix');
    const proposal = await this.o.store.proposal(proposalId);
    if (proposal === undefined) throw stateError(`no proposal ${proposalId}`, 'NOT_FOUND');
    if (proposal.status === 'awaiting_approval') {
      throw stateError(
        `proposal ${proposalId} needs approval first (POST /approvals/${proposalId}/approve)`,
      );
    }
    if (
      proposal.status !== 'approved' &&
      !(proposal.status === 'refused' && proposal.safety === 'safe')
    ) {
      throw stateError(`proposal ${proposalId} is ${proposal.status}: nothing to run`);
    }
    return this.#serial(proposal.service, async () => {
      const incident = await this.o.store.incident(proposal.incidentId);
      if (incident === undefined || incident.status !== 'open')
        throw stateError(`the incident of proposal ${proposalId} is closed`);
      if (proposal.status === 'refused') {
        const spec = this.o.orchestrator.services.find((s) => s.name === proposal.service);
        const d = decide(this.o.config, {
          service: proposal.service,
          action: proposal.action,
          now: this.#now(),
          blockedBy: incident.findings.find((f) => f.blocksAction !== undefined)?.blocksAction,
          inMaintenance: spec !== undefined && this.o.orchestrator.inMaintenance(spec),
          recentActions: (await this.o.store.actions({ service: proposal.service })).map(
            (a) => a.startedAt,
          ),
        });
        if (d.verdict !== 'auto') throw stateError(`policy still refuses: ${d.reason}`);
        await this.o.store.transitionProposal(proposalId, ['refused'], 'approved', {
          by: identity.name,
          at: this.#now(),
        });
      }
      await this.#event(
        incident,
        'execute',
        `${identity.name} asked to run ${proposal.action} (proposal ${proposalId})`,
      );
      await this.#execute(incident, proposalId);
      return (await this.o.store.proposal(proposalId)) ?? proposal;
    });
  }

  /** `POST /analyze-and-propose-fixes`: diagnoses a failing service now. */
  async analyzeNow(
    service: string,
  ): Promise<{ incident?: Incident; findings: Finding[]; proposals: Proposal[] }> {
    return this.#serial(service, async () => {
      const report = await this.o.orchestrator.probeService(service, 'manual');
      const ev = await this.#collect(report);
      let incident = await this.o.store.openIncidentFor(service);
      if (report.state !== 'down' && report.state !== 'degraded' && incident === undefined) {
        return { findings: analyze(ev), proposals: [] };
      }
      if (incident === undefined) {
        await this.#openIncident(report);
      } else if (incident.stage === 'diagnosing' || incident.stage === 'escalated') {
        await this.#proposeAndAct(incident, ev);
      }
      incident =
        (await this.o.store.openIncidentFor(service)) ??
        (await this.o.store.incidents({ service, limit: 1 }))[0];
      return {
        ...(incident === undefined ? {} : { incident }),
        findings: incident?.findings ?? analyze(ev),
        proposals:
          incident === undefined ? [] : await this.o.store.proposals({ incidentId: incident.id }),
      };
    });
  }

  // ---- durability -----------------------------------------------------------------------------

  /**
   * After a restart: an action recorded as started either took effect (the container started
   * after it) and goes on to verification, or did not and is marked interrupted, never
   * repeated blindly; incidents that were verifying verify again.
   */
  async resume(): Promise<void> {
    for (const action of await this.o.store.actions({ status: 'started' })) {
      const incident = await this.o.store.incident(action.incidentId);
      if (incident === undefined) continue;
      const took = await this.#tookEffect(action);
      if (took.effect) {
        await this.o.store.finishAction(action.id, {
          status: 'done',
          at: this.#now(),
          after: took.after,
        });
        await this.o.store.transitionProposal(action.proposalId, ['executing'], 'executed');
        await this.#event(
          incident,
          'resumed',
          `${action.action} had taken effect before the restart; verifying`,
        );
        const proposal = await this.o.store.proposal(action.proposalId);
        if (proposal !== undefined)
          void this.#serial(incident.service, () => this.#verify(incident, proposal));
      } else {
        await this.o.store.finishAction(action.id, {
          status: 'interrupted',
          at: this.#now(),
          error: 'control plane stopped mid-action',
        });
        await this.o.store.transitionProposal(action.proposalId, ['executing'], 'failed');
        await this.o.store.updateIncident(incident.id, { stage: 'diagnosing' }, this.#now());
        await this.#event(
          incident,
          'resumed',
          `${action.action} was interrupted before it took effect; not repeated, the next round decides again`,
        );
      }
    }
    for (const incident of await this.o.store.openIncidents()) {
      if (incident.stage !== 'verifying' && incident.stage !== 'acting') continue;
      const proposals = await this.o.store.proposals({
        incidentId: incident.id,
        status: 'executed',
      });
      const proposal = proposals[proposals.length - 1];
      if (proposal !== undefined)
        void this.#serial(incident.service, () => this.#verify(incident, proposal));
      else await this.o.store.updateIncident(incident.id, { stage: 'diagnosing' }, this.#now());
    }
  }

  async #tookEffect(action: ActionRecord): Promise<{ effect: boolean; after?: unknown }> {
    const container = action.parameters.container;
    if (typeof container !== 'string' || this.o.tools === undefined) return { effect: false };
    try {
      const now = facts((await this.o.tools('docker_inspect', { container })) as Inspected);
      const started = now.startedAt === undefined ? NaN : Date.parse(now.startedAt);
      return { effect: now.state === 'running' && started >= action.startedAt - 1000, after: now };
    } catch {
      return { effect: false };
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#queues.values()]);
  }
}

/**
 * Only a person holding the admin scope decides on a repair: a service's token never does, so
 * the approvals `learn` counts towards autonomy are people's (DESIGN §2, invariant 2).
 */
export function mayDecide(identity: Identity): boolean {
  return identity.kind === 'person' && hasScope(identity, 'admin');
}

function requireDecider(identity: Identity, verb: string): void {
  if (mayDecide(identity)) return;
  throw new AppError(
    'FORBIDDEN',
    identity.kind === 'person'
      ? `to ${verb} needs the admin scope, which ${identity.name} lacks`
      : `a person must decide: ${identity.name} is a service's token and may not ${verb}`,
    { data: { missing: identity.kind === 'person' ? ['admin'] : ['person'] } },
  );
}

/** A proposal not in a state for what was asked (409), or no such proposal (404). */
function stateError(message: string, code: 'CONFLICT' | 'NOT_FOUND' = 'CONFLICT'): AppError {
  return new AppError(code, message);
}

/** The tool-server tool behind each action the control plane can carry out. */
const TOOL_OF: Partial<Record<Proposal['action'], string>> = {
  restart: 'docker_restart',
  start: 'docker_start',
  exec: 'docker_exec',
  wait_for_health: 'docker_health_wait',
  scale_memory: 'docker_update_memory',
};

function toolArgs(p: Pick<Proposal, 'action' | 'parameters'>): Record<string, unknown> {
  const { container } = p.parameters;
  switch (p.action) {
    case 'exec':
      return { container, argv: p.parameters.argv };
    case 'scale_memory':
      return { container, memory_mb: p.parameters.memory_mb };
    case 'wait_for_health':
      return { container, timeout_s: p.parameters.timeout_s ?? 60 };
    default:
      return { container };
  }
}
