import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // not there or not executable: the caller tries the next candidate
  }
};

/** Where `command` would be run from: itself when it is a path, else the first match on PATH. */
export function which(command: string, pathEnv: string | undefined): string | undefined {
  if (command.includes('/'))
    return isAbsolute(command) && isExecutable(command) ? command : undefined;
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
