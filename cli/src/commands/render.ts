import type { Command } from 'commander';
import { loadCatalog, renderStack } from '@datamancy/catalog';
import { syncRendered } from '../stack-dir.ts';

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
      const check = flags.check === true;
      const catalog = loadCatalog(flags.catalog);
      const stale = syncRendered(catalog, flags.out, !check);
      if (check && stale.length > 0) {
        process.stderr.write(`datamancy: stale: ${stale.join(', ')} (run datamancy render)\n`);
        process.exitCode = 1;
      } else if (stale.length === 0) {
        process.stdout.write(`${String(renderStack(catalog).length)} file(s) current\n`);
      } else {
        for (const path of stale) process.stdout.write(`wrote ${path}\n`);
      }
    });
}
