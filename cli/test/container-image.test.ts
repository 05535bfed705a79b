import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '@datamancy/catalog';
import { startHttpFixture } from '@datamancy/testkit';
import { SERVICES } from '../src/services.ts';
import { buildRecipe } from '../src/stack-runner/apply.ts';
import { CLI_VERSION } from '../src/version.ts';

/**
 * The control plane's image. No base image can be pulled here, so the image itself is not
 * built in CI; instead: the Dockerfile's policy (stages, pinned bases, non-root, healthcheck,
 * every workspace manifest copied), and the exact /app layout its build stage makes (the same
 * bundle script), run with plain node: `serve tool-server` answers and the healthcheck script
 * the catalog names tells healthy from unhealthy.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Instruction {
  op: string;
  args: string;
  stage: string;
}

function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  const out: Instruction[] = [];
  let stage = '';
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? args;
    out.push({ op, args, stage });
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));

describe('the control-plane image', () => {
  it('builds in stages from a pinned base, runs as a non-root user with a healthcheck', () => {
    const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.stage);
    expect(froms).toEqual(['build', 'runtime', 'control-plane-browser', 'control-plane']);
    const base = dockerfile.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    expect(base?.args).toMatch(/^NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim$/);
    for (const stage of ['runtime', 'control-plane-browser']) {
      const users = dockerfile.filter((i) => i.stage === stage && i.op === 'USER');
      expect(users.at(-1)?.args, stage).toBe('1000:1000');
    }
    const health = dockerfile.find((i) => i.op === 'HEALTHCHECK');
    expect(health?.args).toContain('/app/bin/healthcheck.mjs');
    // the runtime takes only the bundle layout from the build stage, not the sources
    const copies = dockerfile.filter((i) => i.op === 'COPY' && i.stage !== 'build');
    expect(copies.map((c) => c.args)).toEqual(['--from=build /app /app']);
  });

  it('takes an extra CA only as a build secret on the steps that reach npm, never a file in a layer', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    // a `# syntax=` frontend would be an image pull; the builder's own handles secret mounts
    expect(text).not.toMatch(/^#\s*syntax=/m);
    const npmSteps = dockerfile.filter(
      (i) => i.op === 'RUN' && /\bnpm (ci|install)\b/.test(i.args),
    );
    expect(npmSteps.length).toBeGreaterThanOrEqual(2);
    for (const step of npmSteps) {
      expect(step.args).toMatch(/^--mount=type=secret,id=ca\b/);
      expect(step.args).toContain('NODE_EXTRA_CA_CERTS=/run/secrets/ca');
    }
    for (const i of dockerfile.filter((x) => x.op === 'COPY' || x.op === 'ADD' || x.op === 'ENV'))
      expect(i.args).not.toMatch(/\.crt|\.pem|ca-certificates/);
  });

  it('copies every workspace manifest (the dependency layer) and only files that exist', () => {
    const workspaces = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
    ).workspaces;
    const sources = dockerfile
      .filter((i) => i.op === 'COPY' && i.stage === 'build' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const w of workspaces) expect(sources, w).toContain(`${w}/package.json`);
    for (const s of sources.filter((x) => x !== '.'))
      expect(existsSync(join(ROOT, s)), s).toBe(true);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    for (const secret of ['**/node_modules', '.env', 'stack/secrets', 'stack/*/secrets', 'data'])
      expect(ignore.split('\n'), secret).toContain(secret);
  });

  it('is what the catalog runs: tags, user, `serve <service>` and the healthcheck script', () => {
    const catalog = loadCatalog(join(ROOT, 'stack', 'catalog.yaml'));
    const ours = catalog.services.filter((s) => s.image.startsWith('datamancy/'));
    expect(ours.length).toBeGreaterThanOrEqual(5);
    for (const s of ours) {
      const expectedImage =
        s.name === 'browser' ? 'datamancy/control-plane-browser' : 'datamancy/control-plane';
      expect(s.image, s.name).toBe(`${expectedImage}:${CLI_VERSION}`);
      // datamancy up builds it from the stage of that name
      expect(buildRecipe(s.image, join(ROOT, 'stack'))?.target, s.name).toBe(
        expectedImage.slice('datamancy/'.length),
      );
      // the socket proxies run as root (the engine socket is root's), with the reason given
      expect(s.user, s.name).toBe(s.dockerSocket ? '0:0' : '1000:1000');
      if (s.dockerSocket) expect(s.userReason, s.name).toMatch(/socket/);
      expect(s.command?.[0], s.name).toBe('serve');
      const service = s.command?.[1] ?? '';
      expect(
        SERVICES.some((x) => x.name === service),
        service,
      ).toBe(true);
      expect(s.healthcheck.test.slice(0, 3)).toEqual(['CMD', 'node', '/app/bin/healthcheck.mjs']);
      expect(s.healthcheck.test[3]).toBe(
        `http://127.0.0.1:${String(s.port)}/${service === 'model-router' ? 'health' : 'healthz'}`,
      );
    }
  });

  describe('the /app layout the build stage makes', () => {
    let app: string;
    beforeAll(() => {
      app = mkdtempSync(join(tmpdir(), 'dm-app-'));
      execFileSync(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'scripts/bundle.ts'), '--container', app],
        {
          cwd: ROOT,
          stdio: 'pipe',
        },
      );
      // the image runs `npm install` of these; here the workspace's copies stand in
      symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
    }, 60_000);
    afterAll(() => rmSync(app, { recursive: true, force: true }));

    /** The healthcheck script, without blocking this process (a fixture here must answer). */
    const health = (url: string) =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, [join(app, 'bin', 'healthcheck.mjs'), url], {
          stdio: ['ignore', 'pipe', 'ignore'],
          timeout: 10_000,
        });
        let stdout = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.once('close', (status) => resolve({ status, stdout }));
      });

    it('pins the modules left out of the bundle to the workspace versions', () => {
      const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      expect(Object.keys(pkg.dependencies).sort()).toEqual([
        'better-sqlite3',
        'playwright-core',
        'ssh2',
      ]);
      expect(pkg.dependencies['better-sqlite3']).toMatch(/^12\./);
    });

    it('runs `datamancy serve tool-server` with plain node, and the healthcheck sees it', async () => {
      const data = mkdtempSync(join(tmpdir(), 'dm-app-data-'));
      const child = spawn(
        process.execPath,
        [join(app, 'datamancy.mjs'), 'serve', 'tool-server', '--set', 'toolServer.port=0'],
        {
          cwd: data,
          env: { PATH: process.env.PATH ?? '', DATAMANCY_DATA_DIR: data, HOME: data },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let buffer = '';
          const timer = setTimeout(() => reject(new Error(`no listen line:\n${buffer}`)), 20_000);
          const onData = (chunk: Buffer) => {
            buffer += chunk.toString();
            const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(buffer);
            if (m?.[1] !== undefined && buffer.includes('control plane is up')) {
              clearTimeout(timer);
              resolve(m[1]);
            }
          };
          child.stdout.on('data', onData);
          child.stderr.on('data', onData);
          child.once('exit', (code) => reject(new Error(`exited ${String(code)}:\n${buffer}`)));
        });
        // only the tool server: the services' own entry points stay quiet inside the bundle
        const ok = await health(`${url}/healthz`);
        expect(ok.stdout).toContain('healthy: ');
        expect(ok.status).toBe(0);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        rmSync(data, { recursive: true, force: true });
      }
    }, 40_000);

    it('reports unhealthy for an error status or a closed port, with exit 1', async () => {
      const fixture = await startHttpFixture((_req, res) => {
        res.writeHead(503).end('starting');
      });
      try {
        const bad = await health(`${fixture.url}/healthz`);
        expect(bad.status).toBe(1);
        expect(bad.stdout).toContain('answered 503');
      } finally {
        await fixture.close();
      }
      const closed = await health('http://127.0.0.1:9/healthz');
      expect(closed.status).toBe(1);
      expect(closed.stdout).toMatch(/^unhealthy: /);
    });
  });
});
