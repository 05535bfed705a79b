import pg from 'pg';
import {
  pendingMigrations,
  type Migration,
  type RunResult,
  type SqlExecutor,
  type SqlParams,
  type Store,
} from './store.ts';

/**
 * The store on PostgreSQL (`DATABASE_URL`), for several control-plane workers sharing state.
 * Same interface and `?` placeholders as SQLite; migrations may carry a `postgres` variant of
 * their SQL, and are serialized across processes by one advisory lock.
 */

/**
 * Turns the SQLite DDL our migrations are written in into PostgreSQL's, for the few types that
 * differ, so a migration is written once: an auto-increment key becomes BIGSERIAL and SQLite's
 * 8-byte REAL becomes DOUBLE PRECISION. A migration's `postgres` variant overrides this.
 */
export function toPostgresDdl(sql: string): string {
  return sql
    .replace(/\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b/gi, 'BIGSERIAL PRIMARY KEY')
    .replace(/\bREAL\b/gi, 'DOUBLE PRECISION');
}

/** Rewrites `?` placeholders to `$1…$n`, leaving quoted text and identifiers alone. */
export function toPostgresPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      out += `$${++n}`;
    } else {
      out += ch;
    }
  }
  return out;
}

// int8 (bigserial ids, counts) as numbers: our ids stay far below 2^53.
const parseInt8 = (v: string): number => Number(v);
const types = {
  getTypeParser: ((oid: number, format?: 'text') =>
    oid === 20
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
};

type Queryable = Pick<pg.PoolClient, 'query'>;

class PgExecutor implements SqlExecutor {
  constructor(protected readonly db: Queryable) {}

  async run(sql: string, params: SqlParams = []): Promise<RunResult> {
    const res = await this.db.query(toPostgresPlaceholders(sql), [...params]);
    const first = res.rows[0] as { id?: unknown } | undefined;
    return {
      changes: res.rowCount ?? 0,
      lastInsertId: typeof first?.id === 'number' ? first.id : undefined,
    };
  }

  async all<T>(sql: string, params: SqlParams = []): Promise<T[]> {
    return (await this.db.query(toPostgresPlaceholders(sql), [...params])).rows as T[];
  }

  async get<T>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
}

class PostgresStore extends PgExecutor implements Store {
  readonly dialect = 'postgres' as const;
  constructor(private readonly pool: pg.Pool) {
    super(pool);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new PgExecutor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined); // the original error matters more
      throw err;
    } finally {
      client.release();
    }
  }

  async migrate(component: string, migrations: readonly Migration[]): Promise<string[]> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // One lock for all migrations: even CREATE TABLE IF NOT EXISTS races between processes.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('datamancy.migrate'))");
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        component TEXT NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
        PRIMARY KEY (component, id))`);
      const applied = (
        await client.query<{ id: number; name: string }>(
          'SELECT id, name FROM schema_migrations WHERE component = $1',
          [component],
        )
      ).rows;
      const ran: string[] = [];
      for (const m of pendingMigrations(component, migrations, applied)) {
        await client.query(m.postgres ?? toPostgresDdl(m.sql));
        await client.query(
          'INSERT INTO schema_migrations (component, id, name, applied_at) VALUES ($1, $2, $3, $4)',
          [component, m.id, m.name, new Date().toISOString()],
        );
        ran.push(m.name);
      }
      await client.query('COMMIT');
      return ran;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export async function openPostgresStore(
  url: string,
  options: { maxConnections?: number } = {},
): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, types });
  // Fail at start-up, with the reason, rather than on the first query.
  const client = await pool.connect().catch(async (err: Error) => {
    await pool.end();
    throw new Error(`cannot connect to PostgreSQL (DATABASE_URL): ${err.message}`);
  });
  client.release();
  return new PostgresStore(pool);
}
