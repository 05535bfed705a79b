import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenEntrySchema, TokenRegistry } from '@datamancy/core';
import { runCliSync, serveCli, type Served } from './helpers.ts';

const run = runCliSync;
const serve = serveCli;

const started: Served[] = [];
afterAll(() => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
});

describe('datamancy CLI', () => {
  it('prints help for the program and every command', () => {
    const top = run(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['serve', 'tools', 'audit', 'token', 'probe'])
      expect(top.stdout).toContain(cmd);
    for (const args of [
      ['serve'],
      ['tools', 'list'],
      ['tools', 'call'],
      ['tools', 'plugins'],
      ['audit'],
      ['token', 'create'],
    ]) {
      const res = run([...args, '--help']);
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stdout).toContain('Usage: datamancy');
    }
  });

  it('exits 2 with a message on unknown commands, services and bad config', () => {
    expect(run(['frobnicate']).code).toBe(2);
    const svc = run(['serve', 'nope']);
    expect(svc.code).toBe(2);
    expect(svc.stderr).toContain('unknown service "nope"');
    const cfg = run(['serve'], { TOOLSERVER_PORT: 'eighty', KFUNCDB_ALLOW_CAPS: 'host.root' });
    expect(cfg.code).toBe(2);
    expect(cfg.stderr).toContain('toolServer.port');
    expect(cfg.stderr).toContain('set by TOOLSERVER_PORT');
    expect(cfg.stderr).toContain('toolServer.allowCaps[0]');
  });

  it('creates scoped tokens whose printed hash matches the token', () => {
    const res = run([
      'token',
      'create',
      '--name',
      'probe',
      '--scopes',
      'host.docker.inspect,host.network.http',
    ]);
    expect(res.code).toBe(0);
    const token = /token: (\S+)/.exec(res.stdout)?.[1] ?? '';
    const hash = /sha256: '([0-9a-f]{64})'/.exec(res.stdout)?.[1];
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(run(['token', 'create', '--name', 'x', '--scopes', 'root']).code).toBe(2);
  });

  it('creates service tokens with --kind, whose printed entry grants exactly that identity', () => {
    const res = run([
      'token',
      'create',
      '--name',
      'litellm',
      '--kind',
      'service',
      '--scopes',
      'models.use,speech.use',
    ]);
    expect(res.code, res.stderr).toBe(0);
    const token = /token: (\S+)/.exec(res.stdout)?.[1] ?? '';
    const field = (key: string) => new RegExp(`^ +(?:- )?${key}: (.+)$`, 'm').exec(res.stdout)?.[1];
    const entry = TokenEntrySchema.parse({
      name: field('name'),
      sha256: field('sha256')?.replace(/'/g, ''),
      scopes: field('scopes')?.replace(/[[\]]/g, '').split(', '),
      kind: field('kind'),
    });
    expect(entry).toMatchObject({ name: 'litellm', kind: 'service' });
    const identity = new TokenRegistry(undefined, [entry]).authenticate(token);
    expect(identity?.kind).toBe('service');
    expect([...(identity?.scopes ?? [])]).toEqual(['models.use', 'speech.use']);
    // person by default; any other kind is a usage error
    const person = run(['token', 'create', '--name', 'ops', '--scopes', 'admin']);
    expect(person.stdout).toContain('kind: person');
    const bad = run(['token', 'create', '--name', 'x', '--kind', 'robot', '--scopes', 'admin']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--kind');
    const help = run(['token', 'create', '--help']).stdout;
    for (const word of ['--kind', 'browser.use', 'models.use', 'speech.use', 'metrics.read'])
      expect(help).toContain(word);
  });

  it('serves with a generated mode-600 token, answers tool calls, and stops cleanly on SIGTERM', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'dm-cli-')), 'data');
    const served = await serve([], { DATAMANCY_DATA_DIR: dataDir });
    started.push(served);
    const tokenPath = join(dataDir, 'api-token');
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenPath, 'utf8').trim();
    expect(served.logs.join('')).toContain(tokenPath);
    expect(served.logs.join('')).not.toContain(token);
    expect(served.logs.join('')).toContain('Loaded plugin: core v1.0.0');
    // serve starts the browser service first and points the tool server's browser tools at it
    expect(served.logs.join('')).toMatch(/Loaded plugin: browser v/);

    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    const call = run(
      ['tools', 'call', 'hash_sha256', '--args', '{"text":"abc"}', '--url', served.url],
      { DATAMANCY_DATA_DIR: dataDir },
    );
    expect(call.code).toBe(0);
    expect(JSON.parse(call.stdout)).toMatchObject({
      result: { hex: expect.stringMatching(/^ba7816bf/) },
    });
    const bad = run(['tools', 'call', 'hash_sha256', '--args', '{"text":1}', '--url', served.url], {
      DATAMANCY_DATA_DIR: dataDir,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('args.text');
    // the probe watches what serve started; `datamancy probe` runs its checks now
    expect(served.probeUrl).toBeDefined();
    const probed = run(['probe', '--url', served.probeUrl ?? ''], { DATAMANCY_DATA_DIR: dataDir });
    expect(probed.stderr).toContain('[4/4]'); // browser, tool server, model router, speech gateway
    expect(probed.stdout).toMatch(/^SERVICE\s+STATE\s+OUTCOME\s+LATENCY\s+DETAIL/);
    expect(probed.stdout).toMatch(/tool-server\s+up\s+pass/);
    expect(probed.stdout).toContain('4 of 4 healthy');
    expect(probed.code).toBe(0);
    const json = run(['probe', 'browser', '--json', '--url', served.probeUrl ?? ''], {
      DATAMANCY_DATA_DIR: dataDir,
    });
    expect((JSON.parse(json.stdout) as { name: string }[]).map((r) => r.name)).toEqual(['browser']);
    const ghost = run(['probe', 'ghost', '--url', served.probeUrl ?? ''], {
      DATAMANCY_DATA_DIR: dataDir,
    });
    expect(ghost.code).toBe(2);
    expect(ghost.stderr).toContain('unknown service(s): ghost');
    const audit = run(['audit', '--url', served.url, '--json'], { DATAMANCY_DATA_DIR: dataDir });
    const page = JSON.parse(audit.stdout) as { entries: { outcome: string }[] };
    expect(page.entries.map((e) => e.outcome)).toEqual(['invalid', 'ok']);

    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    expect(served.logs.join('')).toContain('"msg":"stopped"');
  });

  it('uses DATAMANCY_API_TOKEN instead of writing a token file', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'dm-cli-')), 'data');
    const token = `dmcy_${'t'.repeat(40)}`;
    const served = await serve(['tool-server'], {
      DATAMANCY_DATA_DIR: dataDir,
      DATAMANCY_API_TOKEN: token,
    });
    started.push(served);
    expect(existsSync(join(dataDir, 'api-token'))).toBe(false);
    const res = await fetch(`${served.url}/tools`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
  });
});
