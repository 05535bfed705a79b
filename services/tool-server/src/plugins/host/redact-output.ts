import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { AppError, redactSecrets } from '@datamancy/plugin-sdk';
import type { HostPluginConfig } from './config.ts';

/** The digests file another part of the stack renders from `.env`: digests only, never values. */
export const SecretDigestsSchema = z.object({
  sha256: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 digest in hex')),
});
export type SecretDigests = z.infer<typeof SecretDigestsSchema>;

/** Reads and validates a digests file; the set holds lowercase hex. */
export async function loadSecretDigests(path: string): Promise<ReadonlySet<string>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new Error(`${path} is not JSON`, { cause: err });
    throw err;
  }
  const parsed = SecretDigestsSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new Error(`not a digests file ({"sha256": [hex, ...]}): ${where}`);
  }
  return new Set(parsed.data.sha256.map((d) => d.toLowerCase()));
}

export type RedactOutput = <T>(config: HostPluginConfig, value: T) => Promise<T>;

/**
 * What every host tool that returns inspect data passes its result through: secrets by name and
 * by the container's own secret values (already done by the engine adapter, done again here for
 * results assembled from several documents), plus the stack's `.env` secrets by digest. The
 * digests file is re-read when its mtime or size changes. Fails closed: a configured file that
 * cannot be read withholds the output.
 */
export function createOutputRedactor(): RedactOutput {
  let cached:
    { path: string; mtimeMs: number; size: number; digests: ReadonlySet<string> } | undefined;

  async function digestsFor(path: string | undefined): Promise<ReadonlySet<string> | undefined> {
    if (path === undefined) return undefined;
    try {
      const st = await stat(path);
      if (cached?.path === path && cached.mtimeMs === st.mtimeMs && cached.size === st.size) {
        return cached.digests;
      }
      const digests = await loadSecretDigests(path);
      cached = { path, mtimeMs: st.mtimeMs, size: st.size, digests };
      return digests;
    } catch (err) {
      throw new AppError(
        'UNAVAILABLE',
        `the secret digests file (redactDigestsFile) cannot be read, so inspect output is withheld: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  return async (config, value) => {
    const digests = await digestsFor(config.redactDigestsFile);
    return redactSecrets(value, digests === undefined ? {} : { digests });
  };
}
