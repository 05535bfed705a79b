import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVICES, SERVICES } from '../src/services.ts';
import { BIN, CLEAN_ENV } from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('serve docker-proxy', () => {
  it('is a service only when named: a plain serve never exposes the engine', () => {
    expect(SERVICES.map((s) => s.name)).toContain('docker-proxy');
    expect(DEFAULT_SERVICES.map((s) => s.name)).not.toContain('docker-proxy');
    expect(DEFAULT_SERVICES.map((s) => s.name)).toEqual(
      expect.arrayContaining(['tool-server', 'probe', 'browser']),
    );
  });

  it('runs the proxy alone from the environment, refusing container create, with no token and no store', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dm-serve-proxy-'));
    dirs.push(dataDir);
    const child = spawn(process.execPath, [BIN, 'serve', 'docker-proxy'], {
      env: {
        ...CLEAN_ENV,
        DATAMANCY_DATA_DIR: dataDir,
        DOCKER_PROXY_PORT: '0',
        DOCKER_PROXY_SOCKET: join(dataDir, 'no-engine.sock'),
        DOCKER_PROXY_EXEC_ALLOW: '{"web":[["echo","*"]]}',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no proxy within 30 s:\n${out}`)), 30_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*docker-proxy listening/.exec(out);
          if (match?.[1] !== undefined && out.includes('datamancy control plane is up')) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${out}`)));
      });
      const create = await fetch(`${url}/v1.41/containers/create`, { method: 'POST' });
      expect(create.status).toBe(403);
      expect(((await create.json()) as { message: string }).message).toContain(
        'not allowed by the control-plane policy',
      );
      // no engine behind it: the healthcheck says so
      expect((await fetch(`${url}/healthz`)).status).toBe(503);
      // and nothing else was started; it holds no token and keeps nothing on disk
      expect(out).not.toMatch(/"service":"(tool-server|probe|browser)"/);
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  }, 60_000);
});
