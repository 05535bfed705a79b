import pkg from '../package.json' with { type: 'json' };

export const TOOL_SERVER_VERSION: string = pkg.version;
