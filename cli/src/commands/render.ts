import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { loadCatalog, renderStack } from '@datamancy/catalog';

/** `datamancy render`: the stack's files from stack/catalog.yaml, deterministically. */
export function registerRender(program: Command): void {
  program
    .command('render')
    .description(
      'render the stack from the catalog: compose file, Caddyfile, Authelia, LDAP, PostgreSQL, LiteLLM, Homepage, Prometheus, Grafana, probe manifest',
    )
    .option('--catalog <file>', 'the catalog', 'stack/catalog.yaml')
    .option('--out <dir>', 'where the rendered files go', 'stack')
    .option('--check', 'write nothing; exit 1 when a rendered file is missing or stale')
    .addHelpText(
      'after',
      '\nExamples:\n  datamancy render\n  datamancy render --check   # in CI: the committed files are current',
    )
    .action((flags: { catalog: string; out: string; check?: boolean }) => {
      const files = renderStack(loadCatalog(flags.catalog));
      const stale: string[] = [];
      for (const file of files) {
        const path = join(flags.out, file.path);
        const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
        if (current === file.content && (statSync(path).mode & 0o777) === file.mode) continue;
        stale.push(path);
        if (flags.check === true) continue;
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, file.content, { mode: file.mode });
        chmodSync(path, file.mode);
        process.stdout.write(`wrote ${path}\n`);
      }
      if (flags.check === true && stale.length > 0) {
        process.stderr.write(`datamancy: stale: ${stale.join(', ')} (run datamancy render)\n`);
        process.exitCode = 1;
      } else if (stale.length === 0) {
        process.stdout.write(`${files.length} file(s) current\n`);
      }
    });
}
