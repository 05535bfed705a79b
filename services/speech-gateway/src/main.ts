import {
  COMMON_ENV_BINDINGS,
  CommonConfigSchema,
  isEntryModule,
  listen,
  runStandalone,
  type CommonConfig,
  type Logger,
  type RunningServer,
  type TokenRegistry,
} from '@datamancy/core';
import { createApp } from './app.ts';
import { resolveFfmpeg } from './audio/ffmpeg.ts';
import { createBackends, type Backends } from './backends/create.ts';
import {
  SPEECH_GATEWAY_ENV_BINDINGS,
  SpeechGatewayConfigSchema,
  type SpeechGatewayConfig,
} from './config.ts';
import { which } from './runtime/which.ts';

export interface StartSpeechGatewayOptions {
  common: CommonConfig;
  config: SpeechGatewayConfig;
  logger: Logger;
  tokens: TokenRegistry;
  /** Where `apiKeyEnv` names are looked up and PATH for ffmpeg; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface RunningSpeechGateway {
  server: RunningServer;
  backends: Backends;
  close(): Promise<void>;
}

/** The local programs are looked up once, so a missing package shows in the log at start-up. */
function warnMissingCommands(
  config: SpeechGatewayConfig,
  pathEnv: string | undefined,
  logger: Logger,
): void {
  const commands = [
    ...(config.stt.backend === 'local' ? [config.stt.local.command] : []),
    ...(config.tts.backend === 'local' ? [config.tts.local.command] : []),
  ];
  for (const command of commands) {
    if (which(command, pathEnv) === undefined) {
      logger.warn({ command }, `${command} is not installed: its requests will answer 502`);
    }
  }
}

export async function startSpeechGateway(
  options: StartSpeechGatewayOptions,
): Promise<RunningSpeechGateway> {
  const { config } = options;
  const env = options.env ?? process.env;
  const logger = options.logger.child({ service: 'speech-gateway' });
  const ffmpeg = resolveFfmpeg(config.ffmpeg, env.PATH);
  const backends = createBackends(config, env);
  await backends.stt.start?.();
  warnMissingCommands(config, env.PATH, logger);
  const built = createApp({ config, logger, tokens: options.tokens, backends, ffmpeg });
  const server = await listen(built.app, {
    host: config.host ?? options.common.host,
    port: config.port,
    logger,
    name: 'speech-gateway',
  });
  logger.info(
    { stt: backends.stt.label, tts: backends.tts.label, ffmpeg: ffmpeg ?? null },
    'speech backends',
  );
  return { server, backends, close: () => server.close() };
}

/** Standalone entry: `tsx services/speech-gateway/src/main.ts` (or the CLI's `serve speech-gateway`). */
async function main(): Promise<void> {
  await runStandalone({
    schema: CommonConfigSchema.extend({ speechGateway: SpeechGatewayConfigSchema.prefault({}) }),
    bindings: [...COMMON_ENV_BINDINGS, ...SPEECH_GATEWAY_ENV_BINDINGS],
    env: process.env,
    needsStore: false,
    start: ({ config, logger, tokens }) =>
      startSpeechGateway({ common: config, config: config.speechGateway, logger, tokens }),
  });
}

if (isEntryModule(import.meta.url)) {
  await main();
}
