import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';

/**
 * An unencrypted ed25519 key pair by `ssh-keygen` (`path`, mode 600, and `path.pub`), in a
 * mode-700 directory: the control plane's key for the ops plugin (`ops install`, `init`).
 */
export function generateEd25519KeyPair(path: string, comment: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? 'ssh-keygen is not installed (Debian: apt-get install openssh-client)'
        : `ssh-keygen failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`,
    );
  }
}
