import type { SpeechGatewayConfig } from '../config.ts';
import { createOpenAiStt, createOpenAiTts } from './http/openai.ts';
import { createWhisperAsrBackend } from './http/whisper-asr.ts';
import { createEspeakBackend } from './local/espeak.ts';
import { createPocketsphinxBackend } from './local/pocketsphinx.ts';
import type { SttBackend, TtsBackend } from './types.ts';
import { createWyomingStt, createWyomingTts } from './wyoming/backends.ts';

export interface Backends {
  stt: SttBackend;
  tts: TtsBackend;
}

/** The API key named by `apiKeyEnv`, read once at start-up; a name that is not set stops the start. */
function apiKey(
  section: 'stt' | 'tts',
  name: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  if (name === undefined) return undefined;
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `speechGateway.${section}.apiKeyEnv names ${name}, but that environment variable is not set`,
    );
  }
  return value;
}

/** The configured STT and TTS backends. */
export function createBackends(
  config: SpeechGatewayConfig,
  env: Readonly<Record<string, string | undefined>>,
): Backends {
  const { stt, tts } = config;
  let sttBackend: SttBackend;
  switch (stt.backend) {
    case 'local':
      sttBackend = createPocketsphinxBackend(stt);
      break;
    case 'whisper-asr':
      sttBackend = createWhisperAsrBackend(stt);
      break;
    case 'openai':
      sttBackend = createOpenAiStt(stt, apiKey('stt', stt.apiKeyEnv, env));
      break;
    case 'wyoming':
      sttBackend = createWyomingStt(stt);
      break;
  }
  let ttsBackend: TtsBackend;
  switch (tts.backend) {
    case 'local':
      ttsBackend = createEspeakBackend(tts);
      break;
    case 'openai':
      ttsBackend = createOpenAiTts(tts, apiKey('tts', tts.apiKeyEnv, env));
      break;
    case 'wyoming':
      ttsBackend = createWyomingTts(tts);
      break;
  }
  return { stt: sttBackend, tts: ttsBackend };
}
