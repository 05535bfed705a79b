import { createHash, randomBytes } from 'node:crypto';
import type { Migration, Store } from '@datamancy/core';

/**
 * Dashboard sessions, kept server-side so that logging out, removing or rotating a token, or
 * an admin's `DELETE /sessions` ends them. The cookie carries a random id; the store keeps
 * only the id's SHA-256, the token's name and the token's digest (the same SHA-256 the tokens
 * file holds), never the token. Each request re-derives the identity from the token registry.
 */
export const SESSION_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'probe-sessions',
    sql: `
      CREATE TABLE probe_sessions (
        id_hash TEXT PRIMARY KEY,
        token_name TEXT NOT NULL,
        token_digest TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL
      );
      CREATE INDEX probe_sessions_token ON probe_sessions (token_name);
      CREATE INDEX probe_sessions_expiry ON probe_sessions (expires_at);
    `,
  },
];

export interface SessionRecord {
  tokenName: string;
  /** SHA-256 of the token the session was made from. */
  tokenDigest: Buffer;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number;
}

/** What `GET /sessions` shows: no id, no digest. */
export type SessionSummary = Omit<SessionRecord, 'tokenDigest'>;

interface SessionRow {
  id_hash: string;
  token_name: string;
  token_digest: string;
  created_at: number | string;
  expires_at: number | string;
  last_used_at: number | string;
}

const SESSION_ID_RE = /^[A-Za-z0-9_-]{43}$/;

/** The stored key of a cookie value; undefined for anything that cannot be one of ours. */
function idHash(id: string): string | undefined {
  return SESSION_ID_RE.test(id) ? createHash('sha256').update(id).digest('hex') : undefined;
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    tokenName: row.token_name,
    tokenDigest: Buffer.from(row.token_digest, 'hex'),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    lastUsedAt: Number(row.last_used_at),
  };
}

export class SessionStore {
  constructor(
    readonly store: Store,
    /** Last use is written at most this often per session (a write per request is waste). */
    private readonly touchEveryMs = 60_000,
  ) {}

  async migrate(): Promise<void> {
    await this.store.migrate('probe-sessions', SESSION_MIGRATIONS);
  }

  /** A new session; returns the cookie value (32 random bytes, base64url). */
  async create(input: {
    tokenName: string;
    tokenDigest: Buffer;
    ttlMs: number;
    now?: number;
  }): Promise<string> {
    const now = input.now ?? Date.now();
    const id = randomBytes(32).toString('base64url');
    await this.store.run(
      `INSERT INTO probe_sessions (id_hash, token_name, token_digest, created_at, expires_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [
        idHash(id) ?? '',
        input.tokenName,
        input.tokenDigest.toString('hex'),
        now,
        now + input.ttlMs,
        now,
      ],
    );
    return id;
  }

  /** The live session of a cookie value (an expired one is deleted and not returned). */
  async find(id: string, now = Date.now()): Promise<SessionRecord | undefined> {
    const key = idHash(id);
    if (key === undefined) return undefined;
    const row = await this.store.get<SessionRow>('SELECT * FROM probe_sessions WHERE id_hash = ?', [
      key,
    ]);
    if (row === undefined) return undefined;
    const record = toRecord(row);
    if (record.expiresAt <= now) {
      await this.store.run('DELETE FROM probe_sessions WHERE id_hash = ?', [key]);
      return undefined;
    }
    if (now - record.lastUsedAt >= this.touchEveryMs) {
      await this.store.run('UPDATE probe_sessions SET last_used_at = ? WHERE id_hash = ?', [
        now,
        key,
      ]);
      record.lastUsedAt = now;
    }
    return record;
  }

  /** Ends one session (logout); whether there was one. */
  async delete(id: string): Promise<boolean> {
    const key = idHash(id);
    if (key === undefined) return false;
    const result = await this.store.run('DELETE FROM probe_sessions WHERE id_hash = ?', [key]);
    return result.changes > 0;
  }

  /** Ends every session of a token name, or every session at all (`undefined`). */
  async deleteByToken(tokenName: string | undefined): Promise<number> {
    const result =
      tokenName === undefined
        ? await this.store.run('DELETE FROM probe_sessions')
        : await this.store.run('DELETE FROM probe_sessions WHERE token_name = ?', [tokenName]);
    return result.changes;
  }

  /** Live sessions, newest first. */
  async list(now = Date.now()): Promise<SessionSummary[]> {
    const rows = await this.store.all<SessionRow>(
      'SELECT * FROM probe_sessions WHERE expires_at > ? ORDER BY created_at DESC',
      [now],
    );
    return rows.map((row) => {
      const { tokenDigest: _digest, ...summary } = toRecord(row);
      return summary;
    });
  }

  /**
   * Deletes expired sessions and those whose token no longer holds (`stillValid` false:
   * removed from the config or rotated). Returns how many went.
   */
  async prune(
    stillValid: (tokenName: string, tokenDigest: Buffer) => boolean,
    now = Date.now(),
  ): Promise<number> {
    const expired = await this.store.run('DELETE FROM probe_sessions WHERE expires_at <= ?', [now]);
    const rows = await this.store.all<SessionRow>('SELECT * FROM probe_sessions');
    let revoked = 0;
    for (const row of rows) {
      if (!stillValid(row.token_name, Buffer.from(row.token_digest, 'hex'))) {
        revoked += (
          await this.store.run('DELETE FROM probe_sessions WHERE id_hash = ?', [row.id_hash])
        ).changes;
      }
    }
    return expired.changes + revoked;
  }
}
