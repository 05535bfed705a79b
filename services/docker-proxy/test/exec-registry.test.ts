import { describe, expect, it } from 'vitest';
import { ExecRegistry } from '../src/index.ts';

describe('ExecRegistry', () => {
  it('knows the ids it was told until they expire', () => {
    let now = 1_000;
    const execs = new ExecRegistry({ ttlMs: 100, now: () => now });
    execs.remember('abc', 'container-1');
    expect(execs.lookup('abc')).toBe('container-1');
    expect(execs.lookup('abd')).toBeUndefined();
    now += 99;
    expect(execs.lookup('abc')).toBe('container-1');
    now += 1;
    expect(execs.lookup('abc')).toBeUndefined();
    expect(execs.size).toBe(0);
  });

  it('never matches a prefix of a known id', () => {
    const execs = new ExecRegistry();
    execs.remember('e'.repeat(64), 'c');
    expect(execs.lookup('e'.repeat(12))).toBeUndefined();
  });

  it('drops the oldest beyond its size and prunes expired ones as it goes', () => {
    let now = 0;
    const execs = new ExecRegistry({ ttlMs: 50, maxEntries: 3, now: () => now });
    for (const id of ['a', 'b', 'c', 'd']) execs.remember(id, 'x');
    expect(execs.size).toBe(3);
    expect(execs.lookup('a')).toBeUndefined();
    expect(execs.lookup('d')).toBe('x');
    now = 60;
    execs.remember('e', 'y');
    expect(execs.size).toBe(1);
    expect(execs.lookup('e')).toBe('y');
  });
});
