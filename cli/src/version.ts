// A JSON import: bundled into the container's single file, read from disk under tsx
import pkg from '../package.json' with { type: 'json' };

export const CLI_VERSION: string = pkg.version;
