import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadCaddyfile, type CaddyRoutes } from './caddyfile.ts';
import { loadComposeFiles, normalizeProjectName, type ComposeProject } from './compose.ts';
import { buildDiscovery } from './discover.ts';
import { loadEngineSnapshot, type ContainerLister, type EngineSnapshot } from './engine.ts';
import { parseDotEnv, type Env } from './interpolate.ts';
import type { DiscoveryResult } from './types.ts';

/** Reads the sources named in the options and builds the discovery result. */

export interface DiscoverOptions {
  /** Merged in order, later files override. */
  composeFiles?: readonly string[];
  caddyfile?: string;
  /** The live engine; without it, containers are named the way compose names them. */
  engine?: ContainerLister;
  /** `throw` (default): an unreachable engine fails discovery; `warn`: it is left out. */
  onEngineError?: 'throw' | 'warn';
  profiles?: readonly string[];
  /** The stack's public domain; also `DOMAIN` for interpolation when the env has none. */
  domain?: string;
  /** Variables for `${VAR}` in compose files and `{$VAR}` in the Caddyfile. */
  env?: Env;
  /** Overrides the compose project name (top-level `name`, else the first file's directory). */
  projectName?: string;
  signal?: AbortSignal;
}

/**
 * compose's own variable sources: the `.env` file beside the first compose file, overridden
 * by the process environment. (A service's `env_file` is the container's business, not ours.)
 */
export function loadProjectEnv(firstComposeFile: string | undefined, env: Env): Env {
  if (firstComposeFile === undefined) return env;
  const path = join(dirname(firstComposeFile), '.env');
  if (!existsSync(path)) return env;
  return { ...parseDotEnv(readFileSync(path, 'utf8')), ...env };
}

export async function discoverStack(options: DiscoverOptions): Promise<DiscoveryResult> {
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
  };
  const env: Env =
    options.domain === undefined || options.env?.DOMAIN !== undefined
      ? (options.env ?? {})
      : { ...options.env, DOMAIN: options.domain };
  let compose: ComposeProject | undefined;
  if (options.composeFiles !== undefined && options.composeFiles.length > 0) {
    compose = loadComposeFiles(options.composeFiles, { env, warn });
    if (options.projectName !== undefined)
      compose = { ...compose, name: normalizeProjectName(options.projectName) };
  }
  let caddy: CaddyRoutes | undefined;
  if (options.caddyfile !== undefined) caddy = loadCaddyfile(options.caddyfile, { env, warn });
  let engine: EngineSnapshot | undefined;
  if (options.engine !== undefined) {
    try {
      engine = await loadEngineSnapshot(options.engine, {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (err) {
      if (options.onEngineError !== 'warn') throw err;
      warn(`container engine left out: ${(err as Error).message}`);
    }
  }
  const result = buildDiscovery({
    ...(compose === undefined ? {} : { compose }),
    ...(caddy === undefined ? {} : { caddy }),
    ...(engine === undefined ? {} : { engine }),
    ...(options.profiles === undefined ? {} : { profiles: options.profiles }),
    ...(options.domain === undefined ? {} : { domain: options.domain }),
  });
  return { ...result, warnings: [...warnings, ...result.warnings] };
}
