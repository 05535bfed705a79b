import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { UsageError } from '../errors.ts';
import { aptMirror, buildImages } from '../images/build.ts';
import { imageEngine } from '../images/engine-cli.ts';
import { onlyRecipes, profileServices, recipesFor, standInTags } from '../images/recipes.ts';
import { openStackDir } from '../stack-dir.ts';

interface BuildFlags {
  dir: string;
  catalog?: string;
  profile: string;
  caFile?: string;
  ca: boolean;
  mirror?: string;
  force?: boolean;
  json?: boolean;
  only?: string;
}

const DEFAULT_CA = '/etc/ssl/certs/ca-certificates.crt';

/** The checkout this CLI runs from: the project Dockerfile and stack/images live there. */
function repoRoot(): string {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  if (!existsSync(join(root, 'Dockerfile')) || !existsSync(join(root, 'stack', 'images')))
    throw new UsageError(
      `images build runs from a Datamancy checkout (no Dockerfile and stack/images under ${root})`,
    );
  return root;
}

export function registerImages(program: Command): void {
  const images = program
    .command('images')
    .description("build the images a profile needs, here, without pulling (Debian's and ours)");
  images
    .command('build')
    .description(
      "build every image of a profile on the engine at DOCKER_HOST: a Debian root filesystem (mmdebstrap), a Node 20 base, the project's images from its Dockerfile, stand-ins for Caddy, OpenLDAP, Redis and PostgreSQL",
    )
    .option(
      '--dir <dir>',
      'the stack directory (its catalog; build logs go to <dir>/.images)',
      'stack',
    )
    .option('--catalog <file>', 'the catalog (default <dir>/catalog.yaml)')
    .option('-p, --profile <name>', 'the profile whose images to build (only local)', 'local')
    .option(
      '--ca-file <file>',
      `a CA bundle the builds trust (a TLS-inspecting proxy's), handed over as a build secret, never written to a layer (default ${DEFAULT_CA} when present)`,
    )
    .option('--no-ca', 'hand the builds no CA bundle')
    .option(
      '--mirror <url>',
      'the Debian mirror for the root filesystem (default: the one apt uses)',
    )
    .option('--only <names>', 'just these images (comma-separated) and the ones they are built on')
    .option('--force', 'rebuild even when an image is current')
    .option('--json', 'print what was built or reused as JSON')
    .addHelpText(
      'after',
      `
Each image carries a label with a digest of what it was built from (its Dockerfile, build
context, base image): a re-run rebuilds only what changed. Progress goes to stderr, each
build's whole output to <dir>/.images/logs/<image>.log.

Needs: the engine at DOCKER_HOST (Docker Engine, or Podman's API), mmdebstrap, and a docker
client that builds with BuildKit (Debian's docker.io; or docker-buildx) or podman.

Examples:
  datamancy images build --dir stack --profile local
  datamancy images build --dir stack --only caddy,redis   # and the base they are built on
  DOCKER_HOST=unix:///run/user/1000/podman/podman.sock datamancy images build --dir stack`,
    )
    .action(async (flags: BuildFlags) => {
      const stack = openStackDir(flags);
      const all = recipesFor(stack.catalog, profileServices(stack.catalog, flags.profile));
      const recipes =
        flags.only === undefined
          ? all
          : onlyRecipes(
              all,
              flags.only
                .split(',')
                .map((n) => n.trim())
                .filter(Boolean),
            );
      let caFile: string | undefined;
      if (flags.ca) {
        caFile = flags.caFile ?? (existsSync(DEFAULT_CA) ? DEFAULT_CA : undefined);
        if (caFile !== undefined && !existsSync(caFile))
          throw new UsageError(`--ca-file: no file at ${caFile}`);
      }
      const endpoint = resolveEndpoint(process.env.DOCKER_HOST, process.env.XDG_RUNTIME_DIR);
      const info = await new DockerEngine(endpoint).ping();
      const engine = imageEngine(info.product, info.endpoint);
      const started = Date.now();
      process.stderr.write(
        `datamancy images build: ${String(recipes.length)} images for profile ${flags.profile} on ${info.product} ${info.version} (${info.endpoint})\n`,
      );
      const built = await buildImages(engine, recipes, {
        repoRoot: repoRoot(),
        workDir: resolve(stack.dir, '.images'),
        mirror: flags.mirror ?? aptMirror(),
        ...(caFile === undefined ? {} : { caFile }),
        force: flags.force === true,
        progress: (line) => process.stderr.write(`${line}\n`),
      });
      const seconds = Math.round((Date.now() - started) / 1000);
      const fresh = built.filter((b) => b.outcome === 'built').length;
      if (flags.json === true) {
        process.stdout.write(
          `${JSON.stringify({ engine: info.product, seconds, images: built, standIns: standInTags(recipes) }, null, 2)}\n`,
        );
      } else {
        for (const b of built)
          process.stdout.write(
            `${b.tag}  ${b.outcome}${b.outcome === 'built' ? ` in ${String(b.seconds)} s` : ''}\n`,
          );
        process.stdout.write(
          `\n${String(fresh)} built, ${String(built.length - fresh)} reused, ${String(seconds)} s\n`,
        );
      }
    });
}
