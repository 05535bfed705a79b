import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * Writes a PNG under `<dir>/<yyyy-mm-dd>/<time>-<kind>-<requestId>-<random>.png` and returns its absolute
 * path; undefined when no proofs directory is configured.
 */
export async function saveProof(
  dir: string | undefined,
  kind: string,
  requestId: string,
  png: Buffer,
): Promise<string | undefined> {
  if (dir === undefined) return undefined;
  const now = new Date().toISOString();
  const day = join(resolve(dir), now.slice(0, 10));
  await mkdir(day, { recursive: true });
  const safeId = requestId.replace(/[^\w.-]/g, '_').slice(0, 64);
  const time = now.slice(11, 23).replace(/[:.]/g, '');
  const path = join(day, `${time}-${kind}-${safeId}-${randomBytes(3).toString('hex')}.png`);
  await writeFile(path, png, { flag: 'wx' });
  return path;
}
