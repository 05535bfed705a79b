import type { Migration, SqlValue, Store } from '@datamancy/core';
import type {
  ActionKind,
  ActionRecord,
  Finding,
  Incident,
  IncidentStage,
  Pattern,
  Proposal,
  ProposalInput,
  ProposalStatus,
  Safety,
  TimelineEvent,
} from './types.ts';

/**
 * Everything the healing loop knows, in the store, written before it acts: a control plane
 * killed mid-action finds the incident, the proposal and the half-done action on restart.
 */
export const HEAL_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'heal-core',
    sql: `
      CREATE TABLE heal_incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        status TEXT NOT NULL,
        stage TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        signature TEXT NOT NULL,
        opened_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        resolved_at BIGINT,
        resolution TEXT,
        dependents TEXT NOT NULL,
        findings TEXT NOT NULL,
        notified TEXT NOT NULL
      );
      CREATE INDEX heal_incidents_service ON heal_incidents (service, status);
      CREATE INDEX heal_incidents_fingerprint ON heal_incidents (fingerprint);
      CREATE TABLE heal_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX heal_events_incident ON heal_events (incident_id, id);
      CREATE TABLE heal_proposals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL,
        service TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        action TEXT NOT NULL,
        parameters TEXT NOT NULL,
        confidence REAL NOT NULL,
        safety TEXT NOT NULL,
        reasoning TEXT NOT NULL,
        finding TEXT NOT NULL,
        preview TEXT,
        status TEXT NOT NULL,
        decision TEXT NOT NULL,
        decided_by TEXT,
        decided_at BIGINT,
        expires_at BIGINT
      );
      CREATE INDEX heal_proposals_status ON heal_proposals (status);
      CREATE TABLE heal_actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        proposal_id INTEGER NOT NULL,
        incident_id INTEGER NOT NULL,
        service TEXT NOT NULL,
        action TEXT NOT NULL,
        parameters TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT,
        before_state TEXT,
        after_state TEXT,
        error TEXT
      );
      CREATE INDEX heal_actions_service ON heal_actions (service, started_at);
      CREATE TABLE heal_patterns (
        fingerprint TEXT NOT NULL,
        action TEXT NOT NULL,
        approved_successes INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        autonomous INTEGER NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (fingerprint, action)
      );
    `,
  },
];

const json = (value: unknown): string => JSON.stringify(value ?? null);
const parse = <T>(text: string | null): T =>
  text === null ? (null as T) : (JSON.parse(text) as T);
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

interface IncidentRow {
  id: number | string;
  service: string;
  status: string;
  stage: string;
  fingerprint: string;
  signature: string;
  opened_at: number | string;
  updated_at: number | string;
  resolved_at: number | string | null;
  resolution: string | null;
  dependents: string;
  findings: string;
  notified: string;
}

function toIncident(r: IncidentRow): Incident {
  return {
    id: Number(r.id),
    service: r.service,
    status: r.status as Incident['status'],
    stage: r.stage as IncidentStage,
    fingerprint: r.fingerprint,
    signature: r.signature,
    openedAt: Number(r.opened_at),
    updatedAt: Number(r.updated_at),
    resolvedAt: num(r.resolved_at),
    resolution: r.resolution,
    dependents: parse<string[]>(r.dependents),
    findings: parse<Finding[]>(r.findings),
    notified: parse<string[]>(r.notified),
  };
}

interface ProposalRow {
  id: number | string;
  incident_id: number | string;
  service: string;
  created_at: number | string;
  action: string;
  parameters: string;
  confidence: number;
  safety: string;
  reasoning: string;
  finding: string;
  preview: string | null;
  status: string;
  decision: string;
  decided_by: string | null;
  decided_at: number | string | null;
  expires_at: number | string | null;
}

function toProposal(r: ProposalRow): Proposal {
  return {
    id: Number(r.id),
    incidentId: Number(r.incident_id),
    service: r.service,
    createdAt: Number(r.created_at),
    action: r.action as ActionKind,
    parameters: parse<Record<string, unknown>>(r.parameters),
    confidence: Number(r.confidence),
    safety: r.safety as Safety,
    reasoning: r.reasoning,
    finding: r.finding,
    preview: parse<unknown>(r.preview),
    status: r.status as ProposalStatus,
    decision: r.decision,
    decidedBy: r.decided_by,
    decidedAt: num(r.decided_at),
    expiresAt: num(r.expires_at),
  };
}

interface ActionRow {
  id: number | string;
  proposal_id: number | string;
  incident_id: number | string;
  service: string;
  action: string;
  parameters: string;
  status: string;
  started_at: number | string;
  finished_at: number | string | null;
  before_state: string | null;
  after_state: string | null;
  error: string | null;
}

function toAction(r: ActionRow): ActionRecord {
  return {
    id: Number(r.id),
    proposalId: Number(r.proposal_id),
    incidentId: Number(r.incident_id),
    service: r.service,
    action: r.action as ActionKind,
    parameters: parse<Record<string, unknown>>(r.parameters),
    status: r.status as ActionRecord['status'],
    startedAt: Number(r.started_at),
    finishedAt: num(r.finished_at),
    before: parse<unknown>(r.before_state),
    after: parse<unknown>(r.after_state),
    error: r.error,
  };
}

export class HealStore {
  constructor(readonly store: Store) {}

  async migrate(): Promise<void> {
    await this.store.migrate('heal', HEAL_MIGRATIONS);
  }

  async openIncident(input: {
    service: string;
    fingerprint: string;
    signature: string;
    at: number;
  }): Promise<Incident> {
    const row = await this.store.get<{ id: number | string }>(
      `INSERT INTO heal_incidents (service, status, stage, fingerprint, signature, opened_at, updated_at, dependents, findings, notified)
       VALUES (?, 'open', 'diagnosing', ?, ?, ?, ?, '[]', '[]', '[]') RETURNING id`,
      [input.service, input.fingerprint, input.signature, input.at, input.at],
    );
    const incident = await this.incident(Number(row?.id));
    if (incident === undefined) throw new Error('incident vanished after insert');
    return incident;
  }

  async incident(id: number): Promise<Incident | undefined> {
    const row = await this.store.get<IncidentRow>('SELECT * FROM heal_incidents WHERE id = ?', [
      id,
    ]);
    return row === undefined ? undefined : toIncident(row);
  }

  async openIncidentFor(service: string): Promise<Incident | undefined> {
    const row = await this.store.get<IncidentRow>(
      "SELECT * FROM heal_incidents WHERE service = ? AND status = 'open' ORDER BY id DESC LIMIT 1",
      [service],
    );
    return row === undefined ? undefined : toIncident(row);
  }

  async openIncidents(): Promise<Incident[]> {
    const rows = await this.store.all<IncidentRow>(
      "SELECT * FROM heal_incidents WHERE status = 'open' ORDER BY id",
    );
    return rows.map(toIncident);
  }

  async incidents(q: {
    status?: 'open' | 'resolved';
    service?: string;
    limit: number;
    before?: number;
  }): Promise<Incident[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (q.status !== undefined) {
      where.push('status = ?');
      params.push(q.status);
    }
    if (q.service !== undefined) {
      where.push('service = ?');
      params.push(q.service);
    }
    if (q.before !== undefined) {
      where.push('id < ?');
      params.push(q.before);
    }
    params.push(q.limit);
    const rows = await this.store.all<IncidentRow>(
      `SELECT * FROM heal_incidents ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY id DESC LIMIT ?`,
      params,
    );
    return rows.map(toIncident);
  }

  /** Earlier incidents with the same fingerprint (recurrences). */
  async recurrences(fingerprint: string, exceptId: number): Promise<number> {
    const row = await this.store.get<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM heal_incidents WHERE fingerprint = ? AND id <> ?',
      [fingerprint, exceptId],
    );
    return Number(row?.n ?? 0);
  }

  async updateIncident(
    id: number,
    change: Partial<
      Pick<
        Incident,
        'stage' | 'status' | 'resolution' | 'resolvedAt' | 'dependents' | 'findings' | 'notified'
      >
    >,
    at: number,
  ): Promise<void> {
    const sets: string[] = ['updated_at = ?'];
    const params: SqlValue[] = [at];
    const map: [keyof typeof change, string, (v: unknown) => SqlValue][] = [
      ['stage', 'stage', (v) => v as string],
      ['status', 'status', (v) => v as string],
      ['resolution', 'resolution', (v) => v as string | null],
      ['resolvedAt', 'resolved_at', (v) => v as number | null],
      ['dependents', 'dependents', json],
      ['findings', 'findings', json],
      ['notified', 'notified', json],
    ];
    for (const [key, column, convert] of map) {
      if (key in change) {
        sets.push(`${column} = ?`);
        params.push(convert(change[key]));
      }
    }
    params.push(id);
    await this.store.run(`UPDATE heal_incidents SET ${sets.join(', ')} WHERE id = ?`, params);
  }

  async addEvent(
    incidentId: number,
    at: number,
    kind: string,
    message: string,
    detail?: unknown,
  ): Promise<void> {
    await this.store.run(
      'INSERT INTO heal_events (incident_id, at, kind, message, detail) VALUES (?, ?, ?, ?, ?)',
      [incidentId, at, kind, message, detail === undefined ? null : json(detail)],
    );
  }

  async timeline(incidentId: number): Promise<TimelineEvent[]> {
    const rows = await this.store.all<{
      id: number | string;
      incident_id: number | string;
      at: number | string;
      kind: string;
      message: string;
      detail: string | null;
    }>('SELECT * FROM heal_events WHERE incident_id = ? ORDER BY id', [incidentId]);
    return rows.map((r) => ({
      id: Number(r.id),
      incidentId: Number(r.incident_id),
      at: Number(r.at),
      kind: r.kind,
      message: r.message,
      detail: parse<unknown>(r.detail),
    }));
  }

  async addProposal(
    input: ProposalInput & {
      incidentId: number;
      service: string;
      createdAt: number;
      safety: Safety;
      preview: unknown;
      status: ProposalStatus;
      decision: string;
      expiresAt: number | null;
    },
  ): Promise<Proposal> {
    const row = await this.store.get<{ id: number | string }>(
      `INSERT INTO heal_proposals (incident_id, service, created_at, action, parameters, confidence, safety, reasoning, finding, preview, status, decision, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
        input.incidentId,
        input.service,
        input.createdAt,
        input.action,
        json(input.parameters),
        input.confidence,
        input.safety,
        input.reasoning,
        input.finding,
        json(input.preview),
        input.status,
        input.decision,
        input.expiresAt,
      ],
    );
    const proposal = await this.proposal(Number(row?.id));
    if (proposal === undefined) throw new Error('proposal vanished after insert');
    return proposal;
  }

  async proposal(id: number): Promise<Proposal | undefined> {
    const row = await this.store.get<ProposalRow>('SELECT * FROM heal_proposals WHERE id = ?', [
      id,
    ]);
    return row === undefined ? undefined : toProposal(row);
  }

  async proposals(q: { incidentId?: number; status?: ProposalStatus }): Promise<Proposal[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (q.incidentId !== undefined) {
      where.push('incident_id = ?');
      params.push(q.incidentId);
    }
    if (q.status !== undefined) {
      where.push('status = ?');
      params.push(q.status);
    }
    const rows = await this.store.all<ProposalRow>(
      `SELECT * FROM heal_proposals ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY id`,
      params,
    );
    return rows.map(toProposal);
  }

  /**
   * Moves a proposal from one status to another, only if it is still in `from` (so two
   * approvals, or an approval racing an expiry, cannot both win). Returns whether it moved.
   */
  async transitionProposal(
    id: number,
    from: readonly ProposalStatus[],
    to: ProposalStatus,
    decided?: { by: string; at: number; decision?: string },
  ): Promise<boolean> {
    const params: SqlValue[] = [to];
    let sets = 'status = ?';
    if (decided !== undefined) {
      sets += ', decided_by = ?, decided_at = ?';
      params.push(decided.by, decided.at);
      if (decided.decision !== undefined) {
        sets += ', decision = ?';
        params.push(decided.decision);
      }
    }
    params.push(id, ...from);
    const result = await this.store.run(
      `UPDATE heal_proposals SET ${sets} WHERE id = ? AND status IN (${from.map(() => '?').join(', ')})`,
      params,
    );
    return result.changes > 0;
  }

  /** Records the start of an action before it runs (durability). */
  async startAction(input: {
    proposalId: number;
    incidentId: number;
    service: string;
    action: ActionKind;
    parameters: Record<string, unknown>;
    at: number;
    before: unknown;
  }): Promise<ActionRecord> {
    return this.store.transaction(async (tx) => {
      const row = await tx.get<{ id: number | string }>(
        `INSERT INTO heal_actions (proposal_id, incident_id, service, action, parameters, status, started_at, before_state)
         VALUES (?, ?, ?, ?, ?, 'started', ?, ?) RETURNING id`,
        [
          input.proposalId,
          input.incidentId,
          input.service,
          input.action,
          json(input.parameters),
          input.at,
          json(input.before),
        ],
      );
      await tx.run("UPDATE heal_proposals SET status = 'executing' WHERE id = ?", [
        input.proposalId,
      ]);
      const action = await tx.get<ActionRow>('SELECT * FROM heal_actions WHERE id = ?', [
        Number(row?.id),
      ]);
      if (action === undefined) throw new Error('action vanished after insert');
      return toAction(action);
    });
  }

  async finishAction(
    id: number,
    outcome: {
      status: 'done' | 'failed' | 'interrupted';
      at: number;
      after?: unknown;
      error?: string;
    },
  ): Promise<void> {
    await this.store.run(
      'UPDATE heal_actions SET status = ?, finished_at = ?, after_state = ?, error = ? WHERE id = ?',
      [
        outcome.status,
        outcome.at,
        outcome.after === undefined ? null : json(outcome.after),
        outcome.error ?? null,
        id,
      ],
    );
  }

  async actions(q: {
    incidentId?: number;
    service?: string;
    status?: ActionRecord['status'];
    since?: number;
  }): Promise<ActionRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (q.incidentId !== undefined) {
      where.push('incident_id = ?');
      params.push(q.incidentId);
    }
    if (q.service !== undefined) {
      where.push('service = ?');
      params.push(q.service);
    }
    if (q.status !== undefined) {
      where.push('status = ?');
      params.push(q.status);
    }
    if (q.since !== undefined) {
      where.push('started_at >= ?');
      params.push(q.since);
    }
    const rows = await this.store.all<ActionRow>(
      `SELECT * FROM heal_actions ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY id`,
      params,
    );
    return rows.map(toAction);
  }

  async pattern(fingerprint: string, action: ActionKind): Promise<Pattern | undefined> {
    const row = await this.store.get<{
      fingerprint: string;
      action: string;
      approved_successes: number | string;
      failures: number | string;
      autonomous: number | string;
      updated_at: number | string;
    }>('SELECT * FROM heal_patterns WHERE fingerprint = ? AND action = ?', [fingerprint, action]);
    return row === undefined
      ? undefined
      : {
          fingerprint: row.fingerprint,
          action: row.action as ActionKind,
          approvedSuccesses: Number(row.approved_successes),
          failures: Number(row.failures),
          autonomous: Number(row.autonomous) === 1,
          updatedAt: Number(row.updated_at),
        };
  }

  async patterns(): Promise<Pattern[]> {
    const rows = await this.store.all<{ fingerprint: string; action: string }>(
      'SELECT fingerprint, action FROM heal_patterns ORDER BY updated_at DESC',
    );
    const out: Pattern[] = [];
    for (const r of rows) {
      const p = await this.pattern(r.fingerprint, r.action as ActionKind);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  async savePattern(p: Pattern): Promise<void> {
    await this.store.run(
      `INSERT INTO heal_patterns (fingerprint, action, approved_successes, failures, autonomous, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (fingerprint, action) DO UPDATE SET approved_successes = excluded.approved_successes,
         failures = excluded.failures, autonomous = excluded.autonomous, updated_at = excluded.updated_at`,
      [p.fingerprint, p.action, p.approvedSuccesses, p.failures, p.autonomous ? 1 : 0, p.updatedAt],
    );
  }
}
