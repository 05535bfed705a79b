import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Reads the text of a screenshot with tesseract (Debian `tesseract-ocr`), argv only. */
export type Ocr = (png: Buffer, signal: AbortSignal) => Promise<string>;

export function tesseractOcr(binary = 'tesseract', language = 'eng'): Ocr {
  return async (png, signal) => {
    const dir = await mkdtemp(join(tmpdir(), 'dm-ocr-'));
    try {
      const file = join(dir, 'page.png');
      await writeFile(file, png);
      return await new Promise<string>((resolve, reject) => {
        execFile(
          binary,
          [file, 'stdout', '-l', language, '--psm', '3'],
          {
            signal,
            maxBuffer: 4 * 1024 * 1024,
            env: { PATH: process.env.PATH ?? '/usr/bin', OMP_THREAD_LIMIT: '1' },
          },
          (err, stdout) => {
            if (err === null) resolve(stdout);
            else reject(new Error(`tesseract failed: ${err.message}`));
          },
        );
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
