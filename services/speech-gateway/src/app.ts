import {
  createServiceApp,
  type Logger,
  type ServiceApp,
  type TokenRegistry,
} from '@datamancy/core';
import type { Backends } from './backends/create.ts';
import type { SpeechGatewayConfig } from './config.ts';
import { registerAccess } from './http/access.ts';
import type { GatewayDeps } from './http/deps.ts';
import { registerModelRoutes } from './http/models.ts';
import { createOpenApiDocument } from './http/openapi.ts';
import { registerSpeechRoutes } from './http/speech.ts';
import { registerTranscriptionRoutes } from './http/transcriptions.ts';
import { createSpeechMetrics } from './metrics.ts';
import { JobLimiter } from './runtime/limiter.ts';
import { VoiceDirectory } from './runtime/voices.ts';
import { SPEECH_GATEWAY_VERSION } from './version.ts';

export interface SpeechGatewayDeps {
  config: SpeechGatewayConfig;
  logger: Logger;
  tokens: TokenRegistry;
  /** The configured backends (`createBackends`). */
  backends: Backends;
  /** Path of ffmpeg when the gateway may use it (`resolveFfmpeg`), else undefined. */
  ffmpeg: string | undefined;
}

export interface SpeechGatewayApp {
  app: ServiceApp;
  limiter: JobLimiter;
}

/** Builds the speech gateway's HTTP app. No I/O here: backends are called per request. */
export function createApp(deps: SpeechGatewayDeps): SpeechGatewayApp {
  const { config, backends } = deps;
  const limiter = new JobLimiter(config.maxConcurrency, config.maxQueue);
  const { app, metrics } = createServiceApp({
    service: 'speech-gateway',
    version: SPEECH_GATEWAY_VERSION,
    logger: deps.logger,
    tokens: deps.tokens,
    health: () => ({
      ok: true,
      stt: backends.stt.label,
      tts: backends.tts.label,
      ffmpeg: deps.ffmpeg !== undefined,
      running: limiter.running,
      queued: limiter.queued,
    }),
  });
  const gateway: GatewayDeps = {
    config,
    backends,
    limiter,
    tools: { ffmpeg: deps.ffmpeg, timeoutMs: config.stt.timeoutMs },
    voices: new VoiceDirectory(config.tts, backends.tts),
    metrics: createSpeechMetrics(metrics.registry, limiter),
  };
  const openapi = createOpenApiDocument(SPEECH_GATEWAY_VERSION);
  registerAccess(app);
  app.get('/openapi.json', (c) => c.json(openapi));
  registerModelRoutes(app, gateway);
  registerTranscriptionRoutes(app, gateway);
  registerSpeechRoutes(app, gateway);
  return { app, limiter };
}
