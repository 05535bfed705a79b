import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, type Migration } from '../src/index.ts';

const migrations: Migration[] = [
  {
    id: 1,
    name: 'items',
    sql: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)',
  },
  { id: 2, name: 'items.note', sql: 'ALTER TABLE items ADD COLUMN note TEXT' },
];

describe('SQLite store', () => {
  it('opens in WAL mode and applies migrations once, in order', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'dm-store-')), 'x.sqlite');
    const store = openSqliteStore(path);
    expect(await store.migrate('t', migrations)).toEqual(['items', 'items.note']);
    expect(await store.migrate('t', migrations)).toEqual([]);
    expect(await store.get<{ journal_mode: string }>('PRAGMA journal_mode')).toEqual({
      journal_mode: 'wal',
    });
    await store.close();
    const again = openSqliteStore(path);
    expect(
      await again.migrate('t', [
        ...migrations,
        { id: 3, name: 'idx', sql: 'CREATE INDEX i ON items(note)' },
      ]),
    ).toEqual(['idx']);
    await again.close();
  });

  it('refuses a migration whose name changed after it was applied', async () => {
    const store = openSqliteStore(':memory:');
    await store.migrate('t', migrations);
    await expect(store.migrate('t', [{ ...migrations[0]!, name: 'renamed' }])).rejects.toThrow(
      /was applied as/,
    );
  });

  it('rolls a failed migration back whole', async () => {
    const store = openSqliteStore(':memory:');
    await expect(
      store.migrate('t', [
        migrations[0]!,
        { id: 2, name: 'broken', sql: 'ALTER TABLE nope ADD COLUMN x' },
      ]),
    ).rejects.toThrow();
    expect(await store.all("SELECT name FROM sqlite_master WHERE name = 'items'")).toEqual([]);
  });

  it('rolls back a transaction that throws and keeps one that returns', async () => {
    const store = openSqliteStore(':memory:');
    await store.migrate('t', migrations);
    await expect(
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO items (name) VALUES (?)', ['a']);
        await tx.run('INSERT INTO items (name) VALUES (?)', ['a']);
      }),
    ).rejects.toThrow(/UNIQUE/);
    expect(await store.all('SELECT * FROM items')).toEqual([]);
    const id = await store.transaction(
      async (tx) => (await tx.run('INSERT INTO items (name) VALUES (?)', ['b'])).lastInsertId,
    );
    expect(await store.get('SELECT name FROM items WHERE id = ?', [id ?? 0])).toEqual({
      name: 'b',
    });
  });

  it('keeps statements made outside a transaction out of it while it is open', async () => {
    const store = openSqliteStore(':memory:');
    await store.migrate('t', migrations);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = store.transaction(async (t) => {
      await t.run('INSERT INTO items (name) VALUES (?)', ['in-tx']);
      await gate;
      throw new Error('roll back');
    });
    await new Promise((r) => setImmediate(r)); // the transaction is open now
    const outside = store.run('INSERT INTO items (name) VALUES (?)', ['outside']);
    release();
    await expect(tx).rejects.toThrow('roll back');
    await outside;
    expect(await store.all('SELECT name FROM items')).toEqual([{ name: 'outside' }]);
  });
});
