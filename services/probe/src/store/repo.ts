import type { Migration, SqlExecutor, SqlValue, Store } from '@datamancy/core';
import type { CheckResult, Evidence } from '../checks/types.ts';
import type { RoundOutcome, ServiceState, StateStatus } from '../judge/state.ts';

/**
 * The probe's tables. Results and transitions are append-only; `probe_state` holds each
 * service's current state machine so a restart resumes where it was. Times are epoch ms (BIGINT: PostgreSQL's INTEGER is 32 bits).
 */
export const PROBE_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'probe-core',
    sql: `
      CREATE TABLE probe_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        check_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        latency_ms REAL NOT NULL,
        critical INTEGER NOT NULL,
        message TEXT NOT NULL,
        proof TEXT,
        signatures TEXT,
        evidence TEXT NOT NULL
      );
      CREATE INDEX probe_results_service_time ON probe_results (service, started_at);
      CREATE INDEX probe_results_time ON probe_results (started_at);
      CREATE INDEX probe_results_proof ON probe_results (proof);
      CREATE TABLE probe_rounds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        state TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        trigger_kind TEXT NOT NULL,
        llm_verdict TEXT
      );
      CREATE INDEX probe_rounds_service_time ON probe_rounds (service, started_at);
      CREATE TABLE probe_transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        at BIGINT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        alert INTEGER NOT NULL,
        blocked_by TEXT
      );
      CREATE INDEX probe_transitions_service_time ON probe_transitions (service, at);
      CREATE TABLE probe_state (
        service TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        since BIGINT NOT NULL,
        last_round_at BIGINT,
        last_outcome TEXT
      );
      CREATE TABLE probe_maintenance (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        starts_at BIGINT NOT NULL,
        ends_at BIGINT NOT NULL,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX probe_maintenance_end ON probe_maintenance (ends_at);
      CREATE TABLE probe_reports (
        id TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE TABLE probe_rollups (
        service TEXT NOT NULL,
        check_name TEXT NOT NULL,
        hour BIGINT NOT NULL,
        total INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        degraded INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        latency_max REAL NOT NULL,
        PRIMARY KEY (service, check_name, hour)
      );
    `,
  },
];

export interface StoredResult extends CheckResult {
  id: number;
}

export interface RoundRecord {
  service: string;
  startedAt: number;
  outcome: RoundOutcome;
  state: ServiceState;
  latencyMs: number;
  trigger: 'schedule' | 'manual' | 'stack' | 'verify';
  llmVerdict?: unknown;
}

export interface TransitionRecord {
  service: string;
  at: number;
  from: ServiceState;
  to: ServiceState;
  reason: string;
  alert: boolean;
  blockedBy: string | null;
}

export interface PersistedState {
  service: string;
  status: StateStatus;
  since: number;
  lastRoundAt: number | null;
  lastOutcome: RoundOutcome | null;
}

export interface MaintenanceRecord {
  id: number;
  service: string;
  startsAt: number;
  endsAt: number;
  reason: string;
  createdBy: string;
  createdAt: number;
}

export interface RollupRow {
  service: string;
  check: string;
  hour: number;
  total: number;
  passed: number;
  degraded: number;
  failed: number;
  latencyAvg: number;
  latencyMax: number;
}

interface ResultRow {
  id: number;
  service: string;
  check_name: string;
  kind: string;
  started_at: number | string;
  status: string;
  attempts: number;
  latency_ms: number;
  critical: number;
  message: string;
  evidence: string;
}

function toResult(row: ResultRow): StoredResult {
  return {
    id: Number(row.id),
    service: row.service,
    check: row.check_name,
    kind: row.kind as CheckResult['kind'],
    startedAt: Number(row.started_at),
    status: row.status as CheckResult['status'],
    attempts: Number(row.attempts),
    latencyMs: Number(row.latency_ms),
    critical: Number(row.critical) === 1,
    message: row.message,
    evidence: JSON.parse(row.evidence) as Evidence,
  };
}

/** One round's writes, applied together. */
export interface RoundWrite {
  results: readonly CheckResult[];
  round?: RoundRecord;
  transition?: TransitionRecord;
  state?: PersistedState;
}

const RESULT_COLUMNS =
  'service, check_name, kind, started_at, status, attempts, latency_ms, critical, message, proof, signatures, evidence';

/**
 * Reads and writes of the probe. Writes are queued and flushed together (one transaction per
 * flush, multi-row inserts), so a burst of a thousand results costs a handful of statements.
 */
export class ProbeRepository {
  #queue: RoundWrite[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: Store,
    private readonly flushDelayMs = 50,
  ) {}

  async migrate(): Promise<void> {
    await this.store.migrate('probe', PROBE_MIGRATIONS);
  }

  /** Queues a round's writes; they land within `flushDelayMs` (or at `flush()`). */
  enqueue(write: RoundWrite): void {
    this.#queue.push(write);
    if (this.#queue.length >= 200) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.flushDelayMs);
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#flushing !== undefined) await this.#flushing;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    this.#flushing = this.store
      .transaction((tx) => this.#write(tx, batch))
      .finally(() => {
        this.#flushing = undefined;
      });
    await this.#flushing;
  }

  async #write(tx: SqlExecutor, batch: readonly RoundWrite[]): Promise<void> {
    const results = batch.flatMap((w) => w.results);
    for (let i = 0; i < results.length; i += 100) {
      const chunk = results.slice(i, i + 100);
      const params: SqlValue[] = [];
      for (const r of chunk) {
        params.push(
          r.service,
          r.check,
          r.kind,
          r.startedAt,
          r.status,
          r.attempts,
          r.latencyMs,
          r.critical ? 1 : 0,
          r.message,
          r.evidence.proof ?? null,
          r.evidence.signatures === undefined
            ? null
            : r.evidence.signatures.map((s) => s.id).join(','),
          JSON.stringify(r.evidence),
        );
      }
      const row = `(${RESULT_COLUMNS.split(',')
        .map(() => '?')
        .join(', ')})`;
      await tx.run(
        `INSERT INTO probe_results (${RESULT_COLUMNS}) VALUES ${chunk.map(() => row).join(', ')}`,
        params,
      );
    }
    for (const w of batch) {
      if (w.round !== undefined) {
        const r = w.round;
        await tx.run(
          `INSERT INTO probe_rounds (service, started_at, outcome, state, latency_ms, trigger_kind, llm_verdict)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [
            r.service,
            r.startedAt,
            r.outcome,
            r.state,
            r.latencyMs,
            r.trigger,
            r.llmVerdict === undefined ? null : JSON.stringify(r.llmVerdict),
          ],
        );
      }
      if (w.transition !== undefined) {
        const t = w.transition;
        await tx.run(
          `INSERT INTO probe_transitions (service, at, from_state, to_state, reason, alert, blocked_by)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [t.service, t.at, t.from, t.to, t.reason, t.alert ? 1 : 0, t.blockedBy],
        );
      }
      if (w.state !== undefined) {
        const s = w.state;
        await tx.run(
          `INSERT INTO probe_state (service, status, since, last_round_at, last_outcome)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (service) DO UPDATE SET status = excluded.status, since = excluded.since,
             last_round_at = excluded.last_round_at, last_outcome = excluded.last_outcome`,
          [s.service, JSON.stringify(s.status), s.since, s.lastRoundAt, s.lastOutcome],
        );
      }
    }
  }

  async loadStates(): Promise<PersistedState[]> {
    const rows = await this.store.all<{
      service: string;
      status: string;
      since: number | string;
      last_round_at: number | string | null;
      last_outcome: string | null;
    }>('SELECT service, status, since, last_round_at, last_outcome FROM probe_state');
    return rows.map((row) => ({
      service: row.service,
      status: JSON.parse(row.status) as StateStatus,
      since: Number(row.since),
      lastRoundAt: row.last_round_at === null ? null : Number(row.last_round_at),
      lastOutcome: row.last_outcome as RoundOutcome | null,
    }));
  }

  /** The latest result of each check of a service. */
  async latestResults(service: string): Promise<StoredResult[]> {
    const rows = await this.store.all<ResultRow>(
      `SELECT r.* FROM probe_results r
       JOIN (SELECT check_name, MAX(id) AS id FROM probe_results WHERE service = ? GROUP BY check_name) m
         ON r.id = m.id
       ORDER BY r.check_name`,
      [service],
    );
    return rows.map(toResult);
  }

  async results(
    service: string,
    options: { limit: number; before?: number | undefined; check?: string | undefined },
  ): Promise<StoredResult[]> {
    const params: SqlValue[] = [service];
    let where = 'service = ?';
    if (options.before !== undefined) {
      where += ' AND id < ?';
      params.push(options.before);
    }
    if (options.check !== undefined) {
      where += ' AND check_name = ?';
      params.push(options.check);
    }
    params.push(options.limit);
    const rows = await this.store.all<ResultRow>(
      `SELECT * FROM probe_results WHERE ${where} ORDER BY id DESC LIMIT ?`,
      params,
    );
    return rows.map(toResult);
  }

  async rounds(service: string, limit: number): Promise<RoundRecord[]> {
    const rows = await this.store.all<{
      service: string;
      started_at: number | string;
      outcome: string;
      state: string;
      latency_ms: number;
      trigger_kind: string;
      llm_verdict: string | null;
    }>(
      `SELECT service, started_at, outcome, state, latency_ms, trigger_kind, llm_verdict
       FROM probe_rounds WHERE service = ? ORDER BY id DESC LIMIT ?`,
      [service, limit],
    );
    return rows.map((r) => ({
      service: r.service,
      startedAt: Number(r.started_at),
      outcome: r.outcome as RoundOutcome,
      state: r.state as ServiceState,
      latencyMs: Number(r.latency_ms),
      trigger: r.trigger_kind as RoundRecord['trigger'],
      ...(r.llm_verdict === null ? {} : { llmVerdict: JSON.parse(r.llm_verdict) as unknown }),
    }));
  }

  async transitions(service: string | undefined, limit: number): Promise<TransitionRecord[]> {
    const rows = await this.store.all<{
      service: string;
      at: number | string;
      from_state: string;
      to_state: string;
      reason: string;
      alert: number;
      blocked_by: string | null;
    }>(
      `SELECT service, at, from_state, to_state, reason, alert, blocked_by FROM probe_transitions
       ${service === undefined ? '' : 'WHERE service = ?'} ORDER BY id DESC LIMIT ?`,
      service === undefined ? [limit] : [service, limit],
    );
    return rows.map((r) => ({
      service: r.service,
      at: Number(r.at),
      from: r.from_state as ServiceState,
      to: r.to_state as ServiceState,
      reason: r.reason,
      alert: Number(r.alert) === 1,
      blockedBy: r.blocked_by,
    }));
  }

  async addMaintenance(m: Omit<MaintenanceRecord, 'id'>): Promise<MaintenanceRecord> {
    const row = await this.store.get<{ id: number }>(
      `INSERT INTO probe_maintenance (service, starts_at, ends_at, reason, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
      [m.service, m.startsAt, m.endsAt, m.reason, m.createdBy, m.createdAt],
    );
    return { id: Number(row?.id), ...m };
  }

  async deleteMaintenance(id: number): Promise<boolean> {
    const result = await this.store.run('DELETE FROM probe_maintenance WHERE id = ?', [id]);
    return result.changes > 0;
  }

  /** Windows that have not ended yet. */
  async maintenance(now = Date.now()): Promise<MaintenanceRecord[]> {
    const rows = await this.store.all<{
      id: number;
      service: string;
      starts_at: number | string;
      ends_at: number | string;
      reason: string;
      created_by: string;
      created_at: number | string;
    }>('SELECT * FROM probe_maintenance WHERE ends_at > ? ORDER BY starts_at', [now]);
    return rows.map((r) => ({
      id: Number(r.id),
      service: r.service,
      startsAt: Number(r.starts_at),
      endsAt: Number(r.ends_at),
      reason: r.reason,
      createdBy: r.created_by,
      createdAt: Number(r.created_at),
    }));
  }

  async saveReport(id: string, kind: string, body: unknown, now = Date.now()): Promise<void> {
    await this.store.run(
      'INSERT INTO probe_reports (id, created_at, kind, body) VALUES (?, ?, ?, ?)',
      [id, now, kind, JSON.stringify(body)],
    );
  }

  async report(
    id: string,
  ): Promise<{ id: string; createdAt: number; kind: string; body: unknown } | undefined> {
    const row = await this.store.get<{
      id: string;
      created_at: number | string;
      kind: string;
      body: string;
    }>('SELECT id, created_at, kind, body FROM probe_reports WHERE id = ?', [id]);
    return row === undefined
      ? undefined
      : {
          id: row.id,
          createdAt: Number(row.created_at),
          kind: row.kind,
          body: JSON.parse(row.body) as unknown,
        };
  }

  async rollups(service: string, sinceHour: number): Promise<RollupRow[]> {
    const rows = await this.store.all<{
      service: string;
      check_name: string;
      hour: number | string;
      total: number | string;
      passed: number | string;
      degraded: number | string;
      failed: number | string;
      latency_sum: number;
      latency_max: number;
    }>('SELECT * FROM probe_rollups WHERE service = ? AND hour >= ? ORDER BY hour', [
      service,
      sinceHour,
    ]);
    return rows.map((r) => ({
      service: r.service,
      check: r.check_name,
      hour: Number(r.hour),
      total: Number(r.total),
      passed: Number(r.passed),
      degraded: Number(r.degraded),
      failed: Number(r.failed),
      latencyAvg: Number(r.total) === 0 ? 0 : Number(r.latency_sum) / Number(r.total),
      latencyMax: Number(r.latency_max),
    }));
  }

  /**
   * Retention with downsampling: raw results older than `rawBefore` are folded into hourly
   * rollups and deleted; rollups, rounds, transitions and reports older than `keepBefore` are
   * deleted. Returns the proof files no remaining result refers to.
   */
  async applyRetention(
    rawBefore: number,
    keepBefore: number,
  ): Promise<{ folded: number; orphanProofs: string[] }> {
    return this.store.transaction(async (tx) => {
      const candidates = await tx.all<{ proof: string }>(
        'SELECT DISTINCT proof FROM probe_results WHERE started_at < ? AND proof IS NOT NULL',
        [rawBefore],
      );
      // Integer division in both SQLite and PostgreSQL (BIGINT / integer).
      const hour = '(started_at / 3600000) * 3600000';
      await tx.run(
        `INSERT INTO probe_rollups (service, check_name, hour, total, passed, degraded, failed, latency_sum, latency_max)
         SELECT service, check_name, ${hour} AS h, COUNT(*),
           SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'degraded' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'fail' THEN 1 ELSE 0 END),
           SUM(latency_ms), MAX(latency_ms)
         FROM probe_results WHERE started_at < ? GROUP BY service, check_name, h
         ON CONFLICT (service, check_name, hour) DO UPDATE SET
           total = probe_rollups.total + excluded.total,
           passed = probe_rollups.passed + excluded.passed,
           degraded = probe_rollups.degraded + excluded.degraded,
           failed = probe_rollups.failed + excluded.failed,
           latency_sum = probe_rollups.latency_sum + excluded.latency_sum,
           latency_max = CASE WHEN excluded.latency_max > probe_rollups.latency_max
             THEN excluded.latency_max ELSE probe_rollups.latency_max END`,
        [rawBefore],
      );
      const folded = await tx.run('DELETE FROM probe_results WHERE started_at < ?', [rawBefore]);
      await tx.run('DELETE FROM probe_rollups WHERE hour < ?', [keepBefore]);
      await tx.run('DELETE FROM probe_rounds WHERE started_at < ?', [keepBefore]);
      await tx.run('DELETE FROM probe_transitions WHERE at < ?', [keepBefore]);
      await tx.run('DELETE FROM probe_reports WHERE created_at < ?', [keepBefore]);
      await tx.run('DELETE FROM probe_maintenance WHERE ends_at < ?', [keepBefore]);
      const orphanProofs: string[] = [];
      for (const { proof } of candidates) {
        const still = await tx.get<{ n: number }>(
          'SELECT 1 AS n FROM probe_results WHERE proof = ? LIMIT 1',
          [proof],
        );
        if (still === undefined) orphanProofs.push(proof);
      }
      return { folded: folded.changes, orphanProofs };
    });
  }
}
