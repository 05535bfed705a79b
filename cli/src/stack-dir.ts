import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  derivedFiles,
  loadCatalog,
  renderStack,
  type Catalog,
  type DerivedFile,
} from '@datamancy/catalog';
import { parseDotEnv } from '@datamancy/stack-discovery';
import { UsageError } from './errors.ts';
import { generateEd25519KeyPair } from './ssh-key.ts';

/**
 * The stack directory (`stack/` by default): the catalog, the rendered files, `.env` and the
 * secret files derived from it. Shared by init, secrets, volumes, doctor and up/down.
 */
export interface StackDir {
  dir: string;
  catalogPath: string;
  catalog: Catalog;
  envPath: string;
}

export function openStackDir(flags: { dir: string; catalog?: string }): StackDir {
  const catalogPath = flags.catalog ?? join(flags.dir, 'catalog.yaml');
  if (!existsSync(catalogPath))
    throw new UsageError(`no catalog at ${catalogPath} (use --dir or --catalog)`);
  return {
    dir: flags.dir,
    catalogPath,
    catalog: loadCatalog(catalogPath),
    envPath: join(flags.dir, '.env'),
  };
}

export function readEnvFile(path: string): Record<string, string> | undefined {
  return existsSync(path) ? parseDotEnv(readFileSync(path, 'utf8')) : undefined;
}

/** The `.env` of a stack, or a usage error telling to run init. */
export function requireEnv(stack: StackDir): Record<string, string> {
  const env = readEnvFile(stack.envPath);
  if (env === undefined)
    throw new UsageError(`${stack.envPath} is missing: run datamancy init --domain <domain> first`);
  return env;
}

/** Writes a file through a temporary name, so a crash never leaves half a secret. */
export function writePrivateFile(path: string, content: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${String(process.pid)}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/**
 * The rendered files of a catalog that differ from what is in `outDir` (content or mode);
 * with `write`, writes them. Returns their paths.
 */
export function syncRendered(catalog: Catalog, outDir: string, write: boolean): string[] {
  const stale: string[] = [];
  for (const file of renderStack(catalog)) {
    const path = join(outDir, file.path);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current === file.content && (statSync(path).mode & 0o777) === file.mode) continue;
    stale.push(path);
    if (!write) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content, { mode: file.mode });
    chmodSync(path, file.mode);
  }
  return stale;
}

/** Writes the rendered files of the stack that differ; returns the paths written. */
export function writeRendered(stack: StackDir): string[] {
  return syncRendered(stack.catalog, stack.dir, true);
}

export interface DerivedOutcome {
  path: string;
  action: 'kept' | 'created' | 'replaced';
}

/** Brings the derived secret files in line with `.env`; `force` paths are made anew. */
export function syncDerivedFiles(
  stack: StackDir,
  env: Record<string, string>,
  force: ReadonlySet<string> = new Set(),
): DerivedOutcome[] {
  return derivedFiles(stack.catalog, env).map((file: DerivedFile) => {
    const path = join(stack.dir, file.path);
    const exists = existsSync(path);
    if (exists && !force.has(file.path) && file.valid(readFileSync(path, 'utf8')))
      return { path, action: 'kept' as const };
    writePrivateFile(path, file.create());
    return { path, action: exists ? ('replaced' as const) : ('created' as const) };
  });
}

/** The ops SSH key pair (ed25519, for the tool server's ops plugin), relative to the stack dir. */
export const OPS_KEY_PATH = 'secrets/ops/id_ed25519';

/** True when a service mounts the ops key directory (the tool server in the full catalog). */
export function wantsOpsKey(stack: StackDir): boolean {
  return stack.catalog.services.some((s) => s.volumes.some((v) => v.startsWith('./secrets/ops:')));
}

export function ensureOpsKey(stack: StackDir, replace = false): 'kept' | 'created' | 'replaced' {
  const path = join(stack.dir, OPS_KEY_PATH);
  const exists = existsSync(path) && existsSync(`${path}.pub`);
  if (exists && !replace) return 'kept';
  for (const p of [path, `${path}.pub`]) if (existsSync(p)) renameSync(p, `${p}.old`);
  generateEd25519KeyPair(path, 'datamancy-ops');
  return exists ? 'replaced' : 'created';
}
