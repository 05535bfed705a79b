import pkg from '../package.json' with { type: 'json' };

export const BROWSER_VERSION: string = pkg.version;
