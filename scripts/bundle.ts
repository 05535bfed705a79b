// Bundles a service's standalone entry into one ES module run by plain `node` (no tsx):
// services/<name>/dist/<name>.mjs. Containers run these; `npm start` runs the sources.
// Usage: npm run bundle [service...]   (default: every service)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVICES = ['tool-server', 'browser', 'probe'];
/** Native or optional modules that stay in node_modules. */
const EXTERNAL = ['better-sqlite3', 'pg-native', 'playwright-core', 'ssh2', 'cpu-features'];

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!SERVICES.includes(name)) {
    process.stderr.write(`bundle: unknown service "${name}"; choose from ${SERVICES.join(', ')}\n`);
    process.exit(2);
  }
}
for (const name of wanted.length > 0 ? wanted : SERVICES) {
  const entry = `${ROOT}services/${name}/src/main.ts`;
  if (!existsSync(entry)) continue;
  const outfile = `${ROOT}services/${name}/dist/${name}.mjs`;
  const started = performance.now();
  const result = await build({
    entryPoints: [entry],
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
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  process.stdout.write(
    `bundled ${name} → ${outfile.slice(ROOT.length)} (${(bytes / 1024).toFixed(0)} KiB, ${Math.round(performance.now() - started)} ms)\n`,
  );
}
