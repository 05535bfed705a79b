import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { UsageError } from '../errors.ts';
import { StackError } from '../stack-runner/apply.ts';
import type { ImageEngine } from './engine-cli.ts';
import type { Recipe } from './recipes.ts';

/** The label that says from which inputs an image was built: same inputs, no rebuild. */
export const INPUTS_LABEL = 'datamancy.image-inputs';

/** How often a long build step prints a line of its output, to show it is alive. */
const HEARTBEAT_MS = 15_000;

export interface BuildOptions {
  /** The Datamancy checkout (the project Dockerfile, stack/images). */
  repoRoot: string;
  /** Where tarballs and build logs go (`<dir>/.images`). */
  workDir: string;
  /** The Debian mirror mmdebstrap reads (the one apt uses here). */
  mirror: string;
  /** A CA bundle handed to builds as the secret `ca` (a TLS-inspecting proxy's), or none. */
  caFile?: string;
  /** Rebuild even when the inputs did not change. */
  force?: boolean;
  progress: (line: string) => void;
}

export interface BuiltImage {
  name: string;
  tag: string;
  outcome: 'built' | 'reused';
  seconds: number;
  log?: string;
}

function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/** Files of a build context, sorted; the checkout's as git sees them (what .dockerignore keeps). */
function contextFiles(root: string, context: string): string[] {
  const dir = join(root, context);
  if (context === '.' && existsSync(join(root, '.git'))) {
    const listed = execFileSync(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    return listed
      .split('\0')
      .filter((f) => f !== '' && existsSync(join(root, f)) && statSync(join(root, f)).isFile())
      .sort();
  }
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === '.git' || entry.name === 'dist') continue;
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out.push(relative(root, path));
    }
  };
  walk(dir);
  return out.sort();
}

function hostNodeVersion(): string {
  const npm = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
  return `node ${process.version} npm ${npm} ${process.execPath}`;
}

/** What an image is made from: change any of it and the image is rebuilt. */
function inputsOf(recipe: Recipe, options: BuildOptions, baseIds: readonly string[]): string {
  if (recipe.kind === 'rootfs') {
    return sha256('rootfs-v1', 'bookworm', 'minbase', options.mirror, ...recipe.include);
  }
  const files = contextFiles(options.repoRoot, recipe.context);
  const dockerfile = recipe.dockerfile ?? join(recipe.context, 'Dockerfile');
  const parts: (string | Buffer)[] = [
    'dockerfile-v1',
    JSON.stringify({ ...recipe, note: undefined }),
    readFileSync(join(options.repoRoot, dockerfile)),
    ...baseIds,
  ];
  for (const f of files) parts.push(f, readFileSync(join(options.repoRoot, f)));
  if (recipe.hostNode === true) parts.push(hostNodeVersion());
  return sha256(...parts);
}

function runLogged(argv: string[], log: string, progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(log, { flags: 'a' });
    const [bin, ...args] = argv;
    const child = spawn(bin ?? 'false', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = 0;
    const tick = (chunk: Buffer): void => {
      out.write(chunk);
      // one line now and then, so a long step shows it is alive
      if (Date.now() - last > HEARTBEAT_MS) {
        last = Date.now();
        const line = chunk.toString('utf8').trim().split('\n').pop() ?? '';
        if (line !== '') progress(`    ${line.slice(0, 110)}`);
      }
    };
    child.stdout.on('data', tick);
    child.stderr.on('data', tick);
    child.once('error', reject);
    child.once('close', (code) => {
      out.end();
      if (code === 0) resolve();
      else reject(new Error(`${bin ?? ''} exited ${String(code)} (log: ${log})`));
    });
  });
}

/** A build context with the recipe's files and the host's Node 20 and npm as node.tar. */
function nodeContext(options: BuildOptions, recipeDir: string): string {
  const dir = join(options.workDir, 'node-context');
  rmSync(dir, { recursive: true, force: true });
  cpSync(recipeDir, dir, { recursive: true });
  hostNodeTarball(join(dir, 'node.tar'));
  return dir;
}

/** The host's Node and npm (Debian-packaged under /usr, or a /usr/local install) as a tarball. */
function hostNodeTarball(tar: string): void {
  const prefix = join(process.execPath, '..', '..');
  const paths = ['bin/node', 'bin/npm', 'bin/npx', 'include/node', 'lib/node_modules/npm'].filter(
    (p) => existsSync(join(prefix, p)),
  );
  if (!paths.includes('bin/node') || !paths.includes('lib/node_modules/npm'))
    throw new UsageError(`no Node installation under ${prefix} to copy (node and npm are needed)`);
  // The node base keeps the layout: /usr/bin/node etc. on a Debian-packaged Node.
  const into = prefix === '/usr' ? 'usr' : 'usr/local';
  execFileSync('tar', [
    '-C',
    prefix,
    // member names only: the npm/npx symlinks' targets are relative and stay as they are
    '--transform',
    `s,^,${into}/,S`,
    '-cf',
    `${tar}.tmp`,
    ...paths,
  ]);
  renameSync(`${tar}.tmp`, tar);
}

function requireTool(bin: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
  } catch {
    throw new UsageError(
      `${bin} is not installed: run scripts/setup-system.sh (or apt-get install ${pkg})`,
    );
  }
}

async function buildRootfs(
  engine: ImageEngine,
  recipe: Extract<Recipe, { kind: 'rootfs' }>,
  inputs: string,
  options: BuildOptions,
  log: string,
): Promise<void> {
  requireTool('mmdebstrap', 'mmdebstrap');
  const tar = join(options.workDir, `${recipe.name}.tar`);
  rmSync(tar, { force: true });
  await runLogged(
    [
      'mmdebstrap',
      '--variant=minbase',
      `--include=${recipe.include.join(',')}`,
      // apt in later builds keeps no package lists in the layers
      '--aptopt=APT::Install-Recommends "false"',
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      'bookworm',
      tar,
      options.mirror,
    ],
    log,
    options.progress,
  );
  await engine.importTarball(tar, recipe.tag, [
    'CMD ["bash"]',
    `LABEL ${INPUTS_LABEL}=${inputs}`,
    'LABEL org.opencontainers.image.description="Debian bookworm (minbase), built here with mmdebstrap"',
  ]);
  rmSync(tar, { force: true });
}

/**
 * Builds the recipes in order on `engine`, each only when its inputs changed (or `force`).
 * Progress goes to `options.progress`; each build's whole output to a log under workDir.
 */
export async function buildImages(
  engine: ImageEngine,
  recipes: readonly Recipe[],
  options: BuildOptions,
): Promise<BuiltImage[]> {
  mkdirSync(join(options.workDir, 'logs'), { recursive: true });
  const done: BuiltImage[] = [];
  const ids = new Map<string, string>();
  for (const [i, recipe] of recipes.entries()) {
    const started = Date.now();
    const step = `[${String(i + 1)}/${String(recipes.length)}] ${recipe.name} (${recipe.tag})`;
    const baseIds = recipe.needs.map((n) => ids.get(n) ?? '');
    const inputs = inputsOf(recipe, options, baseIds);
    const existing = await engine.labels(recipe.tag);
    if (options.force !== true && existing?.[INPUTS_LABEL] === inputs) {
      options.progress(`${step}: reused (inputs unchanged)`);
      ids.set(recipe.name, (await engine.id(recipe.tag)) ?? '');
      done.push({ name: recipe.name, tag: recipe.tag, outcome: 'reused', seconds: 0 });
      continue;
    }
    const log = join(options.workDir, 'logs', `${recipe.name}.log`);
    rmSync(log, { force: true });
    options.progress(`${step}: building${existing === undefined ? '' : ' (inputs changed)'}…`);
    try {
      if (recipe.kind === 'rootfs') {
        await buildRootfs(engine, recipe, inputs, options, log);
      } else {
        // The node base's context is made here: its Dockerfile and the host's Node as node.tar.
        const context =
          recipe.hostNode === true
            ? nodeContext(options, join(options.repoRoot, recipe.context))
            : join(options.repoRoot, recipe.context);
        const out = createWriteStream(log, { flags: 'a' });
        let lastStep = '';
        let lastShown = Date.now();
        try {
          await engine.build({
            context,
            dockerfile:
              recipe.hostNode === true
                ? join(context, 'Dockerfile')
                : join(options.repoRoot, recipe.dockerfile ?? join(recipe.context, 'Dockerfile')),
            tag: recipe.tag,
            ...(recipe.target === undefined ? {} : { target: recipe.target }),
            buildArgs: recipe.buildArgs,
            labels: { [INPUTS_LABEL]: inputs },
            secrets: options.caFile === undefined ? [] : [{ id: 'ca', src: options.caFile }],
            onLine: (line) => {
              out.write(`${line}\n`);
              // BuildKit: "#7 [build 3/21] RUN …"; Buildah: "STEP 3/21: RUN …"
              const m = /^#\d+ (\[[^\]]+\] .*)$/.exec(line) ?? /^(STEP \d+\/\d+: .*)$/.exec(line);
              const text = m?.[1];
              if (text !== undefined && text !== lastStep && !/^\[internal\]/.test(text)) {
                lastStep = text;
                lastShown = Date.now();
                options.progress(`    ${text.slice(0, 110)}`);
              } else if (Date.now() - lastShown > HEARTBEAT_MS && line.trim() !== '') {
                // a long step (npm ci, apt) shows it is alive
                lastShown = Date.now();
                options.progress(`      … ${line.trim().slice(0, 104)}`);
              }
            },
          });
        } finally {
          out.end();
          if (recipe.hostNode === true) rmSync(context, { recursive: true, force: true });
        }
      }
    } catch (err) {
      const tail = existsSync(log)
        ? readFileSync(log, 'utf8').trim().split('\n').slice(-12).join('\n')
        : '';
      throw new StackError(`${step}: ${(err as Error).message}\n${tail}\n(whole log: ${log})`);
    }
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    ids.set(recipe.name, (await engine.id(recipe.tag)) ?? '');
    options.progress(`${step}: built in ${String(seconds)} s`);
    done.push({ name: recipe.name, tag: recipe.tag, outcome: 'built', seconds, log });
  }
  return done;
}

/** The first Debian mirror apt uses here (deb822 or one-line sources), else deb.debian.org. */
export function aptMirror(): string {
  const files = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const deb822 = /^URIs:\s*(\S+)/m.exec(text)?.[1];
    if (deb822 !== undefined && !deb822.includes('security')) return deb822;
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text)?.[1];
    if (line !== undefined) return line;
  }
  return 'http://deb.debian.org/debian';
}
