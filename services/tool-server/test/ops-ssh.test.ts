import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_CAPABILITIES } from '@datamancy/core';
import type { OpsTarget } from '../src/plugins/ops/index.ts';
import { runRemoteCommand } from '../src/plugins/ops/ssh-client.ts';
import { parseKnownHosts } from '../src/plugins/ops/known-hosts.ts';
import { ADMIN, createTestToolServer, postJson, READER } from './helpers.ts';
import { startSshd, type SshdFixture } from './sshd-fixture.ts';

const ALLOWLIST = `@set containers grafana outline
echo hello
echo {int}
id -u
seq {int}
sleep {int}
exit-with {int}
cat
docker restart {containers}
`;

interface CallBody {
  result: { stdout: string; stderr: string } & Record<string, unknown>;
  error: { code: string; message: string; issues: { path: string }[] } & Record<string, unknown>;
}

/** sshd's log of one connection, from accept to the client's disconnect. */
const DISCONNECTED =
  /Connection from 127\.0\.0\.1 port (\d+)[\s\S]*Disconnected from user \S+ 127\.0\.0\.1 port \1\b/;

let sshd: SshdFixture;
beforeAll(async () => {
  sshd = await startSshd(ALLOWLIST);
  // Fakes on the wrapper's PATH: they record what ran, and run nothing else.
  sshd.writeFile(
    'bin/docker',
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${join(sshd.dir, 'docker.log')}'\necho "docker $*: done"\n`,
    0o755,
  );
  sshd.writeFile('bin/exit-with', '#!/bin/sh\necho "leaving with $1" >&2\nexit "$1"\n', 0o755);
});
afterAll(() => sshd?.close());

function target(overrides: Partial<OpsTarget> = {}): Record<string, unknown> {
  return {
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    privateKeyPath: sshd.clientKey.privatePath,
    knownHostsPath: sshd.knownHostsPath,
    connectTimeoutMs: 5_000,
    commandTimeoutMs: 10_000,
    ...overrides,
  };
}

/** A tool server with the ops plugin pointed at the fixture (overrides change the target). */
async function callSsh(
  args: Record<string, unknown>,
  overrides: Partial<OpsTarget> = {},
  token = ADMIN,
) {
  const { app } = await createTestToolServer({
    allowCaps: [...READ_CAPABILITIES, 'host.network.ssh'],
    pluginConfigs: { ops: { targets: { local: target(overrides) } } },
  });
  const res = await app.request('/call-tool', postJson(token, { name: 'ssh_exec', args }));
  return { status: res.status, body: (await res.json()) as CallBody };
}

const wrapperLog = (): string =>
  existsSync(sshd.wrapperLogPath) ? readFileSync(sshd.wrapperLogPath, 'utf8') : '';

describe('ssh_exec against a real sshd and the forced-command wrapper', () => {
  it('runs an allowlisted command given as argv or as a string, and returns its output', async () => {
    const argv = await callSsh({ command: ['echo', 'hello'] });
    expect(argv.status).toBe(200);
    expect(argv.body.result).toMatchObject({
      target: 'local',
      command: 'echo hello',
      exitCode: 0,
      signal: null,
      refused: false,
      stdout: 'hello\n',
      stderr: '',
      stdoutTruncated: false,
      hostKey: sshd.hostKey.fingerprint,
    });
    const line = await callSsh({ command: 'id  -u' });
    expect(line.body.result.stdout).toBe(`${process.getuid?.() ?? ''}\n`);
    expect(wrapperLog()).toMatch(/allowed \(id -u\): id -u/);
  });

  it('restarts an allowed container through the wrapper, and refuses one not on the list', async () => {
    const ok = await callSsh({ command: ['docker', 'restart', 'grafana'] });
    expect(ok.body.result).toMatchObject({ exitCode: 0, stdout: 'docker restart grafana: done\n' });
    const refused = await callSsh({ command: ['docker', 'restart', 'postgres'] });
    expect(refused.status).toBe(200);
    expect(refused.body.result).toMatchObject({ exitCode: 126, refused: true });
    expect(refused.body.result.stderr).toBe('stackops: refused: command not in allowlist\n');
    expect(readFileSync(join(sshd.dir, 'docker.log'), 'utf8')).toBe('restart grafana\n');
  });

  it('returns a non-zero exit code as a result, not as an error', async () => {
    const res = await callSsh({ command: ['exit-with', '3'] });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({
      exitCode: 3,
      refused: false,
      stderr: 'leaving with 3\n',
    });
  });

  it('gives the remote command end-of-file on stdin, so one that reads it does not hang', async () => {
    const res = await callSsh({ command: ['cat'], timeout_ms: 3_000 });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('refuses unsafe arguments with INVALID_ARGUMENTS before connecting', async () => {
    for (const command of [
      ['echo', 'a;touch', 'x'],
      'echo $(id)',
      ['echo', '../etc'],
      'x'.repeat(1025),
    ]) {
      const res = await callSsh({ command });
      expect(res.status, JSON.stringify(command)).toBe(400);
      expect(res.body.error.code).toBe('INVALID_ARGUMENTS');
    }
    const res = await callSsh({ command: ['echo', 'a;b'] });
    expect(res.body.error.issues[0]?.path).toBe('args.command[1]');
    // The wrapper logs every request that reaches it; none of these did.
    expect(wrapperLog()).not.toMatch(/a;touch|\$\(id\)|\.\.\/etc|xxxxxxxx|a;b/);
  });

  it('cuts output past the budget and says so', async () => {
    const res = await callSsh({ command: ['seq', '100000'] }, { maxOutputBytes: 1024 });
    const expectedBytes = Array.from({ length: 100_000 }, (_, i) => `${i + 1}\n`).join('').length;
    expect(res.body.result).toMatchObject({
      exitCode: 0,
      stdoutTruncated: true,
      stdoutBytes: expectedBytes,
      notes: [`stdout truncated: kept the first 1024 of ${expectedBytes} bytes`],
    });
    expect(res.body.result.stdout).toHaveLength(1024);
    expect(res.body.result.stdout.startsWith('1\n2\n3\n')).toBe(true);
  });

  it('gives up on a command that outlives its timeout: UPSTREAM_TIMEOUT, connection closed', async () => {
    const started = performance.now();
    const logged = sshd.logs().length;
    const res = await callSsh({ command: ['sleep', '30'], timeout_ms: 300 });
    expect(res.status).toBe(504);
    expect(res.body.error).toMatchObject({ code: 'UPSTREAM_TIMEOUT', reason: 'command_timeout' });
    expect(performance.now() - started).toBeLessThan(8_000);
    // sshd logs the disconnect long before `sleep 30` (or the wrapper's 10 s limit) ends the session.
    await expect.poll(() => sshd.logs().slice(logged), { timeout: 5_000 }).toMatch(DISCONNECTED);
  });

  it('gives a read-scoped token 403 CAPABILITY_DENIED', async () => {
    const res = await callSsh({ command: ['echo', 'hello'] }, {}, READER);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({
      code: 'CAPABILITY_DENIED',
      missing: ['host.network.ssh'],
    });
  });
});

describe('ssh_exec trusts only pinned host keys and its own client key', () => {
  it('refuses an unknown host key, naming the host and the fingerprint', async () => {
    const empty = sshd.writeFile('known_hosts.empty', '# nothing pinned\n');
    const res = await callSsh({ command: ['echo', 'hello'] }, { knownHostsPath: empty });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'host_key_unknown',
      fingerprint: sshd.hostKey.fingerprint,
    });
    expect(res.body.error.message).toContain(`[127.0.0.1]:${sshd.port}`);
    expect(res.body.error.message).toContain(sshd.hostKey.fingerprint);
  });

  it('refuses a changed host key as a possible man-in-the-middle', async () => {
    const other = await sshd.generateKey('other_host_key');
    const [type, blob] = other.publicLine.split(' ');
    const pinned = sshd.writeFile(
      'known_hosts.changed',
      `[127.0.0.1]:${sshd.port} ${type} ${blob}\n`,
    );
    const res = await callSsh({ command: ['echo', '4242'] }, { knownHostsPath: pinned });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({
      reason: 'host_key_changed',
      known: [`ssh-ed25519 ${other.fingerprint}`],
    });
    expect(res.body.error.message).toMatch(/^HOST KEY CHANGED for \[127\.0\.0\.1\]:\d+/);
    expect(res.body.error.message).toContain(sshd.hostKey.fingerprint);
    expect(wrapperLog()).not.toContain(': echo 4242'); // the command never reached the host
  });

  it('is refused by the server with a client key it does not know', async () => {
    const stranger = await sshd.generateKey('stranger');
    const res = await callSsh(
      { command: ['echo', 'hello'] },
      { privateKeyPath: stranger.privatePath },
    );
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'auth_failed' });
  });

  it('gives up on a server that never speaks SSH after the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const res = await callSsh({ command: ['echo', 'hello'] }, { port, connectTimeoutMs: 300 });
      expect(res.status).toBe(504);
      expect(res.body.error).toMatchObject({ code: 'UPSTREAM_TIMEOUT', reason: 'connect_timeout' });
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('the wrapper behind a real sshd', () => {
  const canary = (): string => join(sshd.dir, 'canary');
  const raw = (command: string, signal = new AbortController().signal) =>
    runRemoteCommand({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      privateKey: readFileSync(sshd.clientKey.privatePath),
      knownHosts: parseKnownHosts(readFileSync(sshd.knownHostsPath, 'utf8')),
      knownHostsPath: sshd.knownHostsPath,
      command,
      connectTimeoutMs: 5_000,
      commandTimeoutMs: 10_000,
      maxOutputBytes: 4096,
      signal,
    });

  it('refuses injection attempts sent straight over SSH, and none of them runs', async () => {
    const c = canary();
    const corpus = [
      `echo hello; touch ${c}`,
      `echo hello && touch ${c}`,
      `echo hello | touch ${c}`,
      `echo \`touch ${c}\``,
      `echo $(touch ${c})`,
      `echo hello\ntouch ${c}`,
      `echo hello > ${c}`,
      `touch ${c}`,
      `echo ../../${c}`,
      `docker restart grafana;touch ${c}`,
    ];
    for (const command of corpus) {
      const res = await raw(command);
      expect(res.exitCode, command).toBe(126);
      expect(res.stderr.text).toMatch(/^stackops: refused: .+\n$/);
    }
    expect(readdirSync(sshd.dir).filter((f) => f.startsWith('canary'))).toEqual([]);
  });

  it('refuses a login without a command', async () => {
    const res = await raw('');
    expect(res.exitCode).toBe(126);
    expect(res.stderr.text).toContain('no command given');
  });

  it('closes the connection when the call is aborted', async () => {
    const controller = new AbortController();
    const logged = sshd.logs().length;
    const pending = raw('sleep 30', controller.signal);
    setTimeout(() => controller.abort(new Error('caller left')), 300);
    const started = performance.now();
    await expect(pending).rejects.toThrow('caller left');
    expect(performance.now() - started).toBeLessThan(5_000);
    // sshd logs the disconnect long before `sleep 30` (or the wrapper's 10 s limit) ends the session.
    await expect.poll(() => sshd.logs().slice(logged), { timeout: 5_000 }).toMatch(DISCONNECTED);
  });
});
