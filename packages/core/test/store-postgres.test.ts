import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresFixture } from '@datamancy/testkit';
import {
  openStore,
  toPostgresDdl,
  toPostgresPlaceholders,
  type Migration,
  type Store,
} from '../src/index.ts';

const migrations: Migration[] = [
  {
    id: 1,
    name: 'items',
    sql: 'CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)',
  },
];

describe('toPostgresPlaceholders', () => {
  it('numbers placeholders outside quotes only', () => {
    expect(toPostgresPlaceholders(`SELECT ? , '?' , "a?" WHERE x = ?`)).toBe(
      `SELECT $1 , '?' , "a?" WHERE x = $2`,
    );
  });
});

describe('toPostgresDdl', () => {
  it('translates auto-increment keys and REAL, and nothing else', () => {
    expect(
      toPostgresDdl(
        'CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v REAL, n INTEGER, realm TEXT)',
      ),
    ).toBe('CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v DOUBLE PRECISION, n INTEGER, realm TEXT)');
  });
});

describe('PostgreSQL store', () => {
  let pg: PostgresFixture;
  let store: Store;
  beforeAll(async () => {
    pg = await startPostgres();
    store = await openStore({ url: pg.url, sqlitePath: '/nonexistent' });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await pg?.close();
  });

  it("runs migrations once, translated from SQLite's DDL, safely from two stores at once", async () => {
    const other = await openStore({ url: pg.url, sqlitePath: '/nonexistent' });
    const [a, b] = await Promise.all([
      store.migrate('t', migrations),
      other.migrate('t', migrations),
    ]);
    expect([...a, ...b]).toEqual(['items']);
    expect(await store.migrate('t', migrations)).toEqual([]);
    await other.close();
    expect(store.dialect).toBe('postgres');
  });

  it('speaks the same ? queries as SQLite, ids as numbers', async () => {
    const row = await store.get<{ id: number }>(
      'INSERT INTO items (name) VALUES (?) RETURNING id',
      ['a'],
    );
    expect(typeof row?.id).toBe('number');
    expect(await store.all('SELECT name FROM items WHERE id = ?', [row?.id ?? 0])).toEqual([
      { name: 'a' },
    ]);
  });

  it('rolls a failed transaction back', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO items (name) VALUES (?)', ['b']);
        await tx.run('INSERT INTO items (name) VALUES (?)', ['b']);
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await store.all("SELECT name FROM items WHERE name = 'b'")).toEqual([]);
  });

  it('explains a server it cannot reach', async () => {
    await expect(
      openStore({ url: 'postgres://postgres@127.0.0.1:1/x', sqlitePath: '/x' }),
    ).rejects.toThrow(/cannot connect to PostgreSQL/);
  });
});
