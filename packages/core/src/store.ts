import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { openPostgresStore } from './store-postgres.ts';

/**
 * The transactional store every service shares. SQL is written with `?` placeholders and
 * portable types; the interface is async so a PostgreSQL implementation can stand behind it.
 */

export type SqlValue = string | number | bigint | null | Buffer;
export type SqlParams = readonly SqlValue[];

export interface RunResult {
  changes: number;
  lastInsertId: number | undefined;
}

export interface Migration {
  /** Ascending, never reused. */
  id: number;
  name: string;
  /** SQLite's DDL; PostgreSQL gets it through `toPostgresDdl` (AUTOINCREMENT keys, REAL). */
  sql: string;
  /** PostgreSQL's own version, where the automatic translation is not enough. */
  postgres?: string;
}

/**
 * The declared migrations that have not run yet, in order. Throws (a programmer error, at
 * start-up) when ids do not ascend or an applied migration has been renamed.
 */
export function pendingMigrations(
  component: string,
  declared: readonly Migration[],
  applied: readonly { id: number; name: string }[],
): Migration[] {
  const byId = new Map(applied.map((m) => [m.id, m.name]));
  const pending: Migration[] = [];
  let last = 0;
  for (const m of declared) {
    if (m.id <= last) throw new Error(`${component} migrations must have ascending ids (${m.id})`);
    last = m.id;
    const known = byId.get(m.id);
    if (known === undefined) pending.push(m);
    else if (known !== m.name) {
      throw new Error(
        `${component} migration ${m.id} was applied as "${known}" but is now "${m.name}"`,
      );
    }
  }
  return pending;
}

export interface SqlExecutor {
  run(sql: string, params?: SqlParams): Promise<RunResult>;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
}

export interface Store extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction; a throw rolls everything back. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Applies the component's migrations that have not run yet, in order, atomically. */
  migrate(component: string, migrations: readonly Migration[]): Promise<string[]>;
  close(): Promise<void>;
}

class SqliteExecutor implements SqlExecutor {
  readonly #cache: Map<string, Database.Statement>;

  constructor(
    protected readonly db: Database.Database,
    cache?: Map<string, Database.Statement>,
  ) {
    this.#cache = cache ?? new Map<string, Database.Statement>();
  }

  protected statement(sql: string): Database.Statement {
    let stmt = this.#cache.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      if (this.#cache.size > 500) this.#cache.clear();
      this.#cache.set(sql, stmt);
    }
    return stmt;
  }

  run(sql: string, params: SqlParams = []): Promise<RunResult> {
    const info = this.statement(sql).run(...params);
    return Promise.resolve({
      changes: info.changes,
      lastInsertId: info.lastInsertRowid === 0 ? undefined : Number(info.lastInsertRowid),
    });
  }

  all<T>(sql: string, params: SqlParams = []): Promise<T[]> {
    return Promise.resolve(this.statement(sql).all(...params) as T[]);
  }

  get<T>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return Promise.resolve(this.statement(sql).get(...params) as T | undefined);
  }
}

/** Statements outside a transaction wait while one is open, so they never join it by accident. */
class SqliteStore extends SqliteExecutor implements Store {
  readonly dialect = 'sqlite' as const;
  readonly #shared = new Map<string, Database.Statement>();
  #txTail: Promise<void> = Promise.resolve();
  #txOpen = false;

  async #outside<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#txOpen) await this.#txTail;
    return fn();
  }

  override run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.#txOpen ? this.#outside(() => super.run(sql, params)) : super.run(sql, params);
  }
  override all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#txOpen
      ? this.#outside(() => super.all<T>(sql, params))
      : super.all<T>(sql, params);
  }
  override get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#txOpen
      ? this.#outside(() => super.get<T>(sql, params))
      : super.get<T>(sql, params);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const previous = this.#txTail;
    let release!: () => void;
    this.#txTail = new Promise<void>((r) => (release = r));
    return (async () => {
      await previous;
      this.#txOpen = true;
      const tx = new SqliteExecutor(this.db, this.#shared);
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(tx);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      } finally {
        this.#txOpen = false;
        release();
      }
    })();
  }

  async migrate(component: string, migrations: readonly Migration[]): Promise<string[]> {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component TEXT NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
      PRIMARY KEY (component, id))`);
    return this.transaction(async (tx) => {
      const applied = await tx.all<{ id: number; name: string }>(
        'SELECT id, name FROM schema_migrations WHERE component = ? ORDER BY id',
        [component],
      );
      const ran: string[] = [];
      for (const m of pendingMigrations(component, migrations, applied)) {
        this.db.exec(m.sql);
        await tx.run(
          'INSERT INTO schema_migrations (component, id, name, applied_at) VALUES (?, ?, ?, ?)',
          [component, m.id, m.name, new Date().toISOString()],
        );
        ran.push(m.name);
      }
      return ran;
    });
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}

/** Opens (creating if needed) a SQLite database in WAL mode; `:memory:` for tests. */
export function openSqliteStore(path: string): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return new SqliteStore(db);
}

/** PostgreSQL when a URL is given, else SQLite at `sqlitePath`. */
export async function openStore(options: {
  url?: string | undefined;
  sqlitePath: string;
}): Promise<Store> {
  if (options.url !== undefined && options.url !== '') {
    return openPostgresStore(options.url);
  }
  return openSqliteStore(options.sqlitePath);
}
