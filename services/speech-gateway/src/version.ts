import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
export const SPEECH_GATEWAY_VERSION: string = VERSION;
