import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkHostKey,
  fingerprintOf,
  hostKeyAlgorithmsFor,
  parseKnownHosts,
  patternsMatch,
} from '../src/plugins/ops/known-hosts.ts';
import { generateKey, type SshKey } from './sshd-fixture.ts';

let dir: string;
let a: SshKey;
let b: SshKey;
const blob = (key: SshKey): Buffer => Buffer.from(key.publicLine.split(' ')[1] ?? '', 'base64');
const entry = (hosts: string, key: SshKey): string =>
  `${hosts} ${key.publicLine.split(' ').slice(0, 2).join(' ')}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dm-known-hosts-'));
  [a, b] = await Promise.all([generateKey(dir, 'a'), generateKey(dir, 'b')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('known_hosts pinning', () => {
  it('fingerprints a key exactly as ssh-keygen does', () => {
    expect(fingerprintOf(blob(a))).toBe(a.fingerprint);
  });

  it('names a host by [host]:port off port 22 and by its bare name on 22', () => {
    const entries = parseKnownHosts(`${entry('[10.0.0.5]:2222', a)}\n${entry('10.0.0.5', b)}\n`);
    expect(checkHostKey(entries, '10.0.0.5', 2222, blob(a)).ok).toBe(true);
    expect(checkHostKey(entries, '10.0.0.5', 22, blob(b)).ok).toBe(true);
    expect(checkHostKey(entries, '10.0.0.5', 2222, blob(b))).toMatchObject({
      ok: false,
      reason: 'host_key_changed',
      fingerprint: b.fingerprint,
      known: [`ssh-ed25519 ${a.fingerprint}`],
    });
    expect(checkHostKey(entries, '10.0.0.6', 22, blob(a))).toMatchObject({
      ok: false,
      reason: 'host_key_unknown',
      known: [],
    });
  });

  it('reads entries hashed by ssh-keygen -H', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, `${entry('ops.example,[127.0.0.1]:2200', a)}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('ops.example');
    const entries = parseKnownHosts(text);
    expect(checkHostKey(entries, 'ops.example', 22, blob(a)).ok).toBe(true);
    expect(checkHostKey(entries, '127.0.0.1', 2200, blob(a)).ok).toBe(true);
    expect(checkHostKey(entries, '127.0.0.1', 2201, blob(a))).toMatchObject({
      reason: 'host_key_unknown',
    });
  });

  it('honours wildcards, negations, comments, markers and skips malformed lines', () => {
    expect(patternsMatch('*.example.org,!bad.example.org', 'db.example.org')).toBe(true);
    expect(patternsMatch('*.example.org,!bad.example.org', 'bad.example.org')).toBe(false);
    expect(patternsMatch('host?', 'host1')).toBe(true);
    expect(patternsMatch('host?', 'host12')).toBe(false);
    const entries = parseKnownHosts(
      [
        '# a comment',
        'garbage line',
        `host1 ssh-ed25519 ${Buffer.from('not a key').toString('base64')}`,
        entry('@cert-authority *.example.org', b),
        entry('@revoked host1', b),
        entry('host1', a),
      ].join('\n'),
    );
    expect(entries.map((e) => e.marker)).toEqual(['cert-authority', 'revoked', undefined]);
    expect(checkHostKey(entries, 'host1', 22, blob(b))).toMatchObject({
      reason: 'host_key_revoked',
    });
    expect(checkHostKey(entries, 'x.example.org', 22, blob(b))).toMatchObject({
      reason: 'host_key_unknown',
    });
  });

  it('offers only the pinned key types, RSA in all its signature flavours', () => {
    const rsaBlob = Buffer.concat([
      Buffer.from([0, 0, 0, 7]),
      Buffer.from('ssh-rsa'),
      Buffer.alloc(8),
    ]);
    const entries = parseKnownHosts(
      `${entry('h', a)}\nh ssh-rsa ${rsaBlob.toString('base64')}\nother ${a.publicLine}\n`,
    );
    expect(hostKeyAlgorithmsFor(entries, 'h', 22)).toEqual([
      'ssh-ed25519',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
    expect(hostKeyAlgorithmsFor(entries, 'nobody', 22)).toBeUndefined();
  });
});
