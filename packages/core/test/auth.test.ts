import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createSilentLogger,
  ensureAdminToken,
  generateToken,
  hashToken,
  hasScope,
  parseBearer,
  TokenEntrySchema,
  TokenRegistry,
} from '../src/index.ts';

describe('TokenRegistry', () => {
  const admin = generateToken();
  const reader = generateToken();
  const writer = generateToken();
  const registry = new TokenRegistry(admin, [
    { name: 'reader', token: reader, scopes: ['host.docker.inspect'] },
    { name: 'writer', sha256: hashToken(writer).toString('hex'), scopes: ['host.docker.write'] },
  ]);

  it('maps each token to its identity and scopes, admin holding everything', () => {
    const a = registry.authenticate(admin);
    expect(a?.name).toBe('admin');
    expect(a !== undefined && hasScope(a, 'host.docker.write')).toBe(true);
    const r = registry.authenticate(reader);
    expect(r?.name).toBe('reader');
    expect(r !== undefined && hasScope(r, 'host.docker.inspect')).toBe(true);
    expect(r !== undefined && hasScope(r, 'host.docker.write')).toBe(false);
    expect(registry.authenticate(writer)?.name).toBe('writer');
  });

  it('knows no token it was not given', () => {
    expect(registry.authenticate('dmcy_not-a-real-token-at-all-xxxxxxxx')).toBeUndefined();
    expect(registry.authenticate('')).toBeUndefined();
  });

  it('refuses two identities with the same token or name', () => {
    expect(
      () => new TokenRegistry(admin, [{ name: 'x', token: admin, scopes: ['admin'] }]),
    ).toThrow(/already used/);
    expect(
      () =>
        new TokenRegistry(undefined, [
          { name: 'x', token: generateToken(), scopes: ['admin'] },
          { name: 'x', token: generateToken(), scopes: ['admin'] },
        ]),
    ).toThrow(/duplicate token name/);
  });

  it('validates token entries: one of token or sha256, known scopes', () => {
    expect(TokenEntrySchema.safeParse({ name: 'a', scopes: ['admin'] }).success).toBe(false);
    expect(
      TokenEntrySchema.safeParse({ name: 'a', token: 'short', scopes: ['admin'] }).success,
    ).toBe(false);
    expect(
      TokenEntrySchema.safeParse({ name: 'a', token: generateToken(), scopes: ['root'] }).success,
    ).toBe(false);
  });
});

describe('parseBearer', () => {
  it('reads only well-formed bearer headers', () => {
    expect(parseBearer('Bearer abc')).toBe('abc');
    expect(parseBearer('bearer   abc ')).toBe('abc');
    expect(parseBearer('Basic abc')).toBeUndefined();
    expect(parseBearer('Bearer a b')).toBeUndefined();
    expect(parseBearer(undefined)).toBeUndefined();
  });
});

describe('ensureAdminToken', () => {
  it('generates a token into a mode-600 file once, then reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-token-'));
    const path = join(dir, 'data', 'api-token');
    const first = ensureAdminToken(undefined, path, createSilentLogger());
    expect(first.source).toBe('generated');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toBe(first.token);
    const second = ensureAdminToken(undefined, path, createSilentLogger());
    expect(second).toMatchObject({ source: 'file', token: first.token });
  });

  it('prefers the configured token and tightens a loose file mode', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-token-'));
    const path = join(dir, 'api-token');
    expect(ensureAdminToken('x'.repeat(30), path, createSilentLogger())).toEqual({
      token: 'x'.repeat(30),
      source: 'env',
    });
    writeFileSync(path, `${generateToken()}\n`);
    chmodSync(path, 0o644);
    ensureAdminToken(undefined, path, createSilentLogger());
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
