import pkg from '../package.json' with { type: 'json' };

export const PROBE_VERSION: string = pkg.version;
