import { describe, expect, it } from 'vitest';
import { ExecAllowlistSchema, execNamesOf, isExecAllowed } from '../src/index.ts';

const ALLOW = ExecAllowlistSchema.parse({
  web: [['echo', 'hello']],
  db: [
    ['pg_isready', '*'],
    ['psql', '-c', 'select 1'],
  ],
});

describe('isExecAllowed (shared by the tool server and the Docker socket proxy)', () => {
  it.each([
    [['web'], ['echo', 'hello'], true],
    [['web'], ['echo', 'hello', 'again'], false],
    [['web'], ['echo'], false],
    [['db'], ['pg_isready'], true],
    [['db'], ['pg_isready', '-U', 'x'], true],
    [['db'], ['psql', '-c', 'select 1'], true],
    [['db'], ['psql', '-c', 'drop table x'], false],
    [['web'], ['pg_isready'], false],
    [['stack-db-1', 'db'], ['pg_isready'], true],
    [['toString'], ['echo', 'hello'], false],
    [['__proto__'], ['echo', 'hello'], false],
  ])('%j may run %j: %s', (names, argv, allowed) => {
    expect(isExecAllowed(ALLOW, names, argv)).toBe(allowed);
  });

  it('treats "*" as a wildcard only in the last place', () => {
    const list = { x: [['*', 'a']] };
    expect(isExecAllowed(list, ['x'], ['anything', 'a'])).toBe(false);
    expect(isExecAllowed(list, ['x'], ['*', 'a'])).toBe(true);
  });

  it('lists a container under its name and its compose service', () => {
    expect(execNamesOf({ name: 'stack-db-1', compose: { service: 'db' } })).toEqual([
      'stack-db-1',
      'db',
    ]);
    expect(execNamesOf({ name: 'solo', compose: {} })).toEqual(['solo']);
  });

  it('rejects an allowlist entry that is not a list of argv', () => {
    expect(ExecAllowlistSchema.safeParse({ web: ['echo'] }).success).toBe(false);
    expect(ExecAllowlistSchema.safeParse({ web: [[]] }).success).toBe(false);
    expect(ExecAllowlistSchema.safeParse({ web: [['', 'x']] }).success).toBe(false);
  });

  it('keeps an empty argument, as a healthcheck has one (ldapsearch -b "")', () => {
    const ldap = ExecAllowlistSchema.parse({
      ldap: [['ldapsearch', '-x', '-b', '', '-s', 'base']],
    });
    expect(isExecAllowed(ldap, ['ldap'], ['ldapsearch', '-x', '-b', '', '-s', 'base'])).toBe(true);
    expect(isExecAllowed(ldap, ['ldap'], ['ldapsearch', '-x', '-b', 'dc=x', '-s', 'base'])).toBe(
      false,
    );
  });
});
