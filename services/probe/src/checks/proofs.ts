import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Screenshots as evidence: content-addressed files (`<sha256>.png`) under the proofs directory. */
export const PROOF_NAME_RE = /^[0-9a-f]{64}\.png$/;

export class ProofStore {
  constructor(readonly dir: string) {}

  /** Writes the PNG once (same bytes, same name) and returns its file name. */
  async save(png: Buffer): Promise<string> {
    const name = `${createHash('sha256').update(png).digest('hex')}.png`;
    const path = join(this.dir, name);
    if (!existsSync(path)) {
      await mkdir(this.dir, { recursive: true });
      await writeFile(path, png, { mode: 0o640 });
    }
    return name;
  }

  /** The file's path, or undefined for a name that is not a proof's. */
  pathOf(name: string): string | undefined {
    return PROOF_NAME_RE.test(name) ? join(this.dir, name) : undefined;
  }
}
