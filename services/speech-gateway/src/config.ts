import { z } from 'zod';
import type { EnvBinding } from '@datamancy/core';

/**
 * The speech gateway's configuration (`speechGateway:` in datamancy.yaml). One STT and one TTS
 * backend are selected; the defaults are the local commands (pocketsphinx, espeak-ng), so the
 * gateway works on a machine with nothing but the Debian packages installed.
 */

export const STT_BACKENDS = ['local', 'whisper-asr', 'openai', 'wyoming'] as const;
export const TTS_BACKENDS = ['local', 'openai', 'wyoming'] as const;
export type SttBackendName = (typeof STT_BACKENDS)[number];
export type TtsBackendName = (typeof TTS_BACKENDS)[number];

/** Where the Debian package `pocketsphinx-en-us` puts the US English model. */
export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

const name = z.string().min(1).max(200);
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable');
const languageCode = z
  .string()
  .regex(/^[a-z]{2,3}([-_][A-Za-z]{2,4})?$/, 'expected a language code such as "en" or "en-US"');
const timeout = (fallback: number) => z.number().int().min(100).max(600_000).default(fallback);
const MiB = 1024 * 1024;

/** An upstream's address: http(s) for whisper-asr and OpenAI, `tcp://host:port` for Wyoming. */
function upstreamProblem(backend: string, url: string | undefined): string | undefined {
  if (backend === 'local') return undefined;
  if (url === undefined) return `backend "${backend}" needs a url`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `not a URL: ${url}`;
  }
  const wanted = backend === 'wyoming' ? ['tcp:'] : ['http:', 'https:'];
  if (!wanted.includes(parsed.protocol)) {
    return `backend "${backend}" needs a ${wanted.map((p) => `${p}//`).join(' or ')} URL`;
  }
  if (backend === 'wyoming' && (parsed.port === '' || parsed.hostname === '')) {
    return 'expected tcp://host:port';
  }
  return undefined;
}

const refineUpstream = (
  c: { backend: string; url?: string | undefined },
  ctx: { addIssue(issue: { code: 'custom'; path: string[]; message: string }): void },
): void => {
  const problem = upstreamProblem(c.backend, c.url);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
};

export const LocalSttConfigSchema = z.object({
  /** pocketsphinx's batch decoder (Debian package `pocketsphinx`). */
  command: z.string().min(1).default('pocketsphinx_continuous'),
  /** Acoustic model (`-hmm`), language model (`-lm`) and dictionary (`-dict`). */
  hmm: z.string().min(1).default(`${POCKETSPHINX_MODEL_DIR}/en-us`),
  lm: z.string().min(1).default(`${POCKETSPHINX_MODEL_DIR}/en-us.lm.bin`),
  dict: z.string().min(1).default(`${POCKETSPHINX_MODEL_DIR}/cmudict-en-us.dict`),
  /**
   * Phrases to recognise as a grammar (JSGF) instead of open vocabulary. Every word must be in
   * the dictionary (checked at start-up). A request's `prompt` replaces this list.
   */
  phrases: z.array(z.string().min(1).max(500)).max(10_000).default([]),
  /** Read a request's `prompt` as a phrase list (separated by newlines or `|`). */
  promptAsPhrases: z.boolean().default(true),
  /** The most phrases one grammar may hold (config or prompt). */
  maxPhrases: z.number().int().min(1).max(10_000).default(1000),
});

export const SttConfigSchema = z
  .object({
    backend: z.enum(STT_BACKENDS).default('local'),
    /** whisper-asr: its base URL; openai: base URL with `/v1`; wyoming: `tcp://host:port`. */
    url: z.string().min(1).optional(),
    /** openai: the environment variable holding the upstream's API key (never the key). */
    apiKeyEnv: envName.optional(),
    /** The model name sent upstream (openai, wyoming); unset: the name the client asked for. */
    upstreamModel: name.optional(),
    /** Names a request's `model` may take (all served by the one backend); the first is the default. */
    models: z.array(name).min(1).default(['whisper-1']),
    /** Language used when a request names none; unset: the backend decides. */
    language: languageCode.optional(),
    timeoutMs: timeout(60_000),
    local: LocalSttConfigSchema.prefault({}),
  })
  .superRefine(refineUpstream);

export const LocalTtsConfigSchema = z.object({
  command: z.string().min(1).default('espeak-ng'),
  /** espeak-ng's speed at `speed: 1` (words per minute); `speed` scales it. */
  wordsPerMinute: z.number().int().min(80).max(450).default(175),
});

export const TtsConfigSchema = z
  .object({
    backend: z.enum(TTS_BACKENDS).default('local'),
    url: z.string().min(1).optional(),
    apiKeyEnv: envName.optional(),
    upstreamModel: name.optional(),
    models: z.array(name).min(1).default(['tts-1', 'tts-1-hd']),
    /**
     * Voices offered; unset: what the backend reports (espeak-ng --voices, Wyoming `describe`,
     * OpenAI's list).
     */
    voices: z.array(name).min(1).optional(),
    /** Client voice names mapped to backend voices, e.g. `{ alloy: en-us }`. */
    aliases: z.record(name, name).default({}),
    /** Voice used when a request names none; unset: `en-us` (local), else the first voice. */
    defaultVoice: name.optional(),
    timeoutMs: timeout(30_000),
    /** Largest audio a backend may return before the request fails (bytes). */
    maxOutputBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(1024 * MiB)
      .default(64 * MiB),
    local: LocalTtsConfigSchema.prefault({}),
  })
  .superRefine(refineUpstream);

export const SpeechGatewayConfigSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8091),
  /** Overrides the shared bind address for this service. */
  host: z.string().min(1).optional(),
  /** Largest audio upload (bytes); OpenAI's limit is 25 MiB. Beyond it: 413. */
  maxUploadBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * MiB)
    .default(25 * MiB),
  /** Longest `input` of a speech request (characters); OpenAI's limit is 4096. */
  maxInputChars: z.number().int().min(1).max(100_000).default(4096),
  /** Backend jobs running at once; the rest wait in a queue of `maxQueue` (beyond it: 429). */
  maxConcurrency: z.number().int().min(1).max(64).default(2),
  maxQueue: z.number().int().min(0).max(10_000).default(32),
  /**
   * ffmpeg for formats other than WAV (input) and wav/pcm (output): `auto` uses it when it is
   * on PATH, `off` never, anything else is its path.
   */
  ffmpeg: z.string().min(1).default('auto'),
  stt: SttConfigSchema.prefault({}),
  tts: TtsConfigSchema.prefault({}),
});
export type SpeechGatewayConfig = z.output<typeof SpeechGatewayConfigSchema>;
export type SttConfig = SpeechGatewayConfig['stt'];
export type TtsConfig = SpeechGatewayConfig['tts'];

const at = (path: string) => `speechGateway.${path}`;

export const SPEECH_GATEWAY_ENV_BINDINGS: readonly EnvBinding[] = [
  { env: 'SPEECH_PORT', path: at('port'), kind: 'int' },
  { env: 'SPEECH_HOST', path: at('host') },
  { env: 'SPEECH_MAX_UPLOAD_BYTES', path: at('maxUploadBytes'), kind: 'int' },
  { env: 'SPEECH_MAX_INPUT_CHARS', path: at('maxInputChars'), kind: 'int' },
  { env: 'SPEECH_MAX_CONCURRENCY', path: at('maxConcurrency'), kind: 'int' },
  { env: 'SPEECH_MAX_QUEUE', path: at('maxQueue'), kind: 'int' },
  { env: 'SPEECH_FFMPEG', path: at('ffmpeg') },
  { env: 'SPEECH_STT_BACKEND', path: at('stt.backend') },
  { env: 'SPEECH_STT_URL', path: at('stt.url') },
  { env: 'SPEECH_STT_API_KEY_ENV', path: at('stt.apiKeyEnv') },
  { env: 'SPEECH_STT_UPSTREAM_MODEL', path: at('stt.upstreamModel') },
  { env: 'SPEECH_STT_MODELS', path: at('stt.models'), kind: 'list' },
  { env: 'SPEECH_STT_LANGUAGE', path: at('stt.language') },
  { env: 'SPEECH_STT_TIMEOUT_MS', path: at('stt.timeoutMs'), kind: 'int' },
  { env: 'SPEECH_STT_PHRASES', path: at('stt.local.phrases'), kind: 'list' },
  { env: 'SPEECH_TTS_BACKEND', path: at('tts.backend') },
  { env: 'SPEECH_TTS_URL', path: at('tts.url') },
  { env: 'SPEECH_TTS_API_KEY_ENV', path: at('tts.apiKeyEnv') },
  { env: 'SPEECH_TTS_UPSTREAM_MODEL', path: at('tts.upstreamModel') },
  { env: 'SPEECH_TTS_MODELS', path: at('tts.models'), kind: 'list' },
  { env: 'SPEECH_TTS_VOICES', path: at('tts.voices'), kind: 'list' },
  { env: 'SPEECH_TTS_DEFAULT_VOICE', path: at('tts.defaultVoice') },
  { env: 'SPEECH_TTS_TIMEOUT_MS', path: at('tts.timeoutMs'), kind: 'int' },
];
