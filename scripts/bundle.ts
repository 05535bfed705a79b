// Bundles each service's standalone entry, and the `datamancy` CLI, into one ES module run by
// plain `node` (no tsx): services/<name>/dist/<name>.mjs and cli/dist/datamancy.mjs.
// `--container <dir>` also lays out what the container image runs (the Dockerfile uses it):
//   <dir>/datamancy.mjs, <dir>/bin/healthcheck.mjs, <dir>/package.json (the native and
//   optional modules left out of the bundle, pinned to the versions in node_modules).
// Usage: npm run bundle [--container <dir>] [target...]   (default: every target)
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGETS: Record<string, { entry: string; outfile: string }> = {
  'tool-server': {
    entry: 'services/tool-server/src/main.ts',
    outfile: 'services/tool-server/dist/tool-server.mjs',
  },
  browser: { entry: 'services/browser/src/main.ts', outfile: 'services/browser/dist/browser.mjs' },
  probe: { entry: 'services/probe/src/main.ts', outfile: 'services/probe/dist/probe.mjs' },
  'model-router': {
    entry: 'services/model-router/src/main.ts',
    outfile: 'services/model-router/dist/model-router.mjs',
  },
  'docker-proxy': {
    entry: 'services/docker-proxy/src/main.ts',
    outfile: 'services/docker-proxy/dist/docker-proxy.mjs',
  },
  cli: { entry: 'cli/src/main.ts', outfile: 'cli/dist/datamancy.mjs' },
};
/** Native or optional modules that stay in node_modules. */
const EXTERNAL = ['better-sqlite3', 'pg-native', 'playwright-core', 'ssh2', 'cpu-features'];

function fail(message: string): never {
  process.stderr.write(`bundle: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let container: string | undefined;
const wanted: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i] ?? '';
  if (arg === '--container') {
    container = args[++i] ?? fail('--container needs a directory');
  } else if (arg in TARGETS) {
    wanted.push(arg);
  } else {
    fail(`unknown target "${arg}"; choose from ${Object.keys(TARGETS).join(', ')}`);
  }
}
const chosen =
  container !== undefined ? ['cli'] : wanted.length > 0 ? wanted : Object.keys(TARGETS);

for (const name of chosen) {
  const target = TARGETS[name];
  if (target === undefined || !existsSync(join(ROOT, target.entry))) continue;
  const outfile = join(ROOT, target.outfile);
  const started = performance.now();
  const result = await build({
    entryPoints: [join(ROOT, target.entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    // CommonJS dependencies inside an ES module need `require`
    banner: {
      js: "import { createRequire as __dmRequire } from 'node:module'; const require = __dmRequire(import.meta.url);",
    },
    // the services' own `main()` must not start inside the CLI (isEntryModule in core)
    define: name === 'cli' ? { __DATAMANCY_CLI_BUNDLE__: 'true' } : {},
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((sum, o) => sum + o.bytes, 0);
  process.stdout.write(
    `bundled ${name} → ${target.outfile} (${(bytes / 1024).toFixed(0)} KiB, ${String(Math.round(performance.now() - started))} ms)\n`,
  );
}

if (container !== undefined) {
  const dir = container;
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'cli/dist/datamancy.mjs'), join(dir, 'datamancy.mjs'));
  copyFileSync(join(ROOT, 'scripts/container/healthcheck.mjs'), join(dir, 'bin/healthcheck.mjs'));
  const version = (pkg: string): string | undefined => {
    const path = join(ROOT, 'node_modules', pkg, 'package.json');
    return existsSync(path)
      ? (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
      : undefined;
  };
  const dependencies = Object.fromEntries(
    EXTERNAL.flatMap((pkg) => {
      const v = version(pkg);
      return v === undefined || pkg === 'cpu-features' ? [] : [[pkg, v]];
    }),
  );
  const cli = JSON.parse(readFileSync(join(ROOT, 'cli/package.json'), 'utf8')) as {
    version: string;
  };
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'datamancy-container', version: cli.version, private: true, type: 'module', dependencies }, null, 2)}\n`,
  );
  process.stdout.write(
    `container layout → ${dir} (external modules: ${Object.keys(dependencies).join(', ')})\n`,
  );
}
