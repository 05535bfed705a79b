export { createApp } from './app.ts';
export type { SpeechGatewayApp, SpeechGatewayDeps } from './app.ts';
export {
  LocalSttConfigSchema,
  LocalTtsConfigSchema,
  POCKETSPHINX_MODEL_DIR,
  SPEECH_GATEWAY_ENV_BINDINGS,
  SpeechGatewayConfigSchema,
  STT_BACKENDS,
  SttConfigSchema,
  TTS_BACKENDS,
  TtsConfigSchema,
} from './config.ts';
export type {
  SpeechGatewayConfig,
  SttBackendName,
  SttConfig,
  TtsBackendName,
  TtsConfig,
} from './config.ts';
export { createBackends } from './backends/create.ts';
export type { Backends } from './backends/create.ts';
export type {
  SttBackend,
  Transcript,
  TranscriptFormat,
  TtsBackend,
  VoiceCatalog,
} from './backends/types.ts';
export {
  decodeAll as decodeWyomingEvents,
  encodeEvent as encodeWyomingEvent,
  WyomingDecoder,
  WyomingProtocolError,
} from './backends/wyoming/framing.ts';
export type { WyomingEvent } from './backends/wyoming/framing.ts';
export { wyomingExchange, WyomingError } from './backends/wyoming/client.ts';
export { createOpenApiDocument } from './http/openapi.ts';
export { startSpeechGateway } from './main.ts';
export type { RunningSpeechGateway, StartSpeechGatewayOptions } from './main.ts';
export { SPEECH_GATEWAY_VERSION } from './version.ts';
