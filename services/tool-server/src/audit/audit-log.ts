import { createHash } from 'node:crypto';
import type { Logger, Migration, SqlParams, Store } from '@datamancy/core';

/** Every tool call, whoever made it and however it ended, lands here. */

export type CallChannel = 'http' | 'mcp' | 'chat';
export type CallOutcome =
  'ok' | 'error' | 'denied' | 'invalid' | 'not_found' | 'timeout' | 'aborted';

export interface AuditEntry {
  id: number;
  ts: string;
  caller: string;
  channel: CallChannel;
  tool: string;
  argsDigest: string;
  outcome: CallOutcome;
  errorCode: string | null;
  durationMs: number;
  requestId: string | null;
}

export interface AuditQuery {
  tool?: string | undefined;
  caller?: string | undefined;
  outcome?: CallOutcome | undefined;
  since?: string | undefined;
  until?: string | undefined;
  before?: number | undefined;
  limit: number;
}

const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: 'create tool_audit',
    sql: `CREATE TABLE tool_audit (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      ts TEXT NOT NULL,
      caller TEXT NOT NULL,
      channel TEXT NOT NULL,
      tool TEXT NOT NULL,
      args_digest TEXT NOT NULL,
      outcome TEXT NOT NULL,
      error_code TEXT,
      duration_ms REAL NOT NULL,
      request_id TEXT
    );
    CREATE INDEX tool_audit_ts ON tool_audit (ts);
    CREATE INDEX tool_audit_tool ON tool_audit (tool, id);
    CREATE INDEX tool_audit_caller ON tool_audit (caller, id);`,
  },
];

/** JSON with keys sorted at every level, so equal arguments give equal digests. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function digestArgs(args: unknown): string {
  return `sha256:${createHash('sha256')
    .update(canonicalJson(args ?? {}))
    .digest('hex')}`;
}

interface Row {
  id: number;
  ts: string;
  caller: string;
  channel: CallChannel;
  tool: string;
  args_digest: string;
  outcome: CallOutcome;
  error_code: string | null;
  duration_ms: number;
  request_id: string | null;
}

type PendingEntry = Omit<AuditEntry, 'id' | 'ts'> & { ts?: string };

const INSERT = `INSERT INTO tool_audit (ts, caller, channel, tool, args_digest, outcome, error_code, duration_ms, request_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * Records are queued and written in one transaction per event-loop turn: a busy server pays
 * one commit for many calls instead of one each. Reads and shutdown flush first, so nothing
 * queued is missed or lost on a clean stop.
 */
export class AuditLog {
  #pending: PendingEntry[] = [];
  #scheduled = false;
  #flushing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
  ) {}

  static async open(store: Store, logger?: Logger): Promise<AuditLog> {
    await store.migrate('tool-server.audit', MIGRATIONS);
    return new AuditLog(store, logger);
  }

  record(entry: PendingEntry): void {
    this.#pending.push({ ...entry, ts: entry.ts ?? new Date().toISOString() });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return this.#flushing;
    this.#pending = [];
    this.#flushing = this.#flushing.then(() =>
      this.store
        .transaction(async (tx) => {
          for (const e of batch) {
            await tx.run(INSERT, [
              e.ts ?? new Date().toISOString(),
              e.caller,
              e.channel,
              e.tool,
              e.argsDigest,
              e.outcome,
              e.errorCode,
              e.durationMs,
              e.requestId,
            ]);
          }
        })
        .catch((err: unknown) => {
          this.logger?.error({ err, lost: batch.length }, 'could not write tool audit records');
        }),
    );
    return this.#flushing;
  }

  async query(q: AuditQuery): Promise<AuditEntry[]> {
    await this.flush();
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(clause);
      params.push(value);
    };
    add('tool = ?', q.tool);
    add('caller = ?', q.caller);
    add('outcome = ?', q.outcome);
    add('ts >= ?', q.since);
    add('ts < ?', q.until);
    add('id < ?', q.before);
    const sql = `SELECT * FROM tool_audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id DESC LIMIT ?`;
    const rows = await this.store.all<Row>(sql, [...params, q.limit] as SqlParams);
    return rows.map((r) => ({
      id: r.id,
      ts: r.ts,
      caller: r.caller,
      channel: r.channel,
      tool: r.tool,
      argsDigest: r.args_digest,
      outcome: r.outcome,
      errorCode: r.error_code,
      durationMs: r.duration_ms,
      requestId: r.request_id,
    }));
  }
}
