import type { SpeechFormat } from '../../audio/detect.ts';
import type { SttConfig, TtsConfig } from '../../config.ts';
import type {
  SttBackend,
  SynthesizeResult,
  TranscribeResult,
  TtsBackend,
  VoiceCatalog,
} from '../types.ts';
import { callUpstream, joinUrl } from './upstream.ts';

/**
 * Any OpenAI-compatible speech upstream (OpenAI, LocalAI, Speaches, a LiteLLM proxy): the request
 * is forwarded as multipart / JSON to `{url}/audio/transcriptions` / `{url}/audio/speech` (url
 * including `/v1`), with the API key read from the configured environment variable, and the
 * answer is passed through.
 */

const LABEL = 'openai';

/** The voices OpenAI's speech endpoint offers (listed when none are configured). */
export const OPENAI_VOICES = [
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'fable',
  'nova',
  'onyx',
  'sage',
  'shimmer',
  'verse',
] as const;

export const OPENAI_SPEECH_FORMATS: readonly SpeechFormat[] = [
  'mp3',
  'opus',
  'aac',
  'flac',
  'wav',
  'pcm',
];

const authHeaders = (apiKey: string | undefined): Record<string, string> =>
  apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` };

export function createOpenAiStt(config: SttConfig, apiKey: string | undefined): SttBackend {
  const base = config.url ?? '';
  return {
    name: 'openai',
    label: LABEL,
    needsPcm: false,
    async transcribe(request): Promise<TranscribeResult> {
      const form = new FormData();
      form.append(
        'file',
        new Blob([request.file.bytes], { type: request.file.type || 'application/octet-stream' }),
        request.file.name,
      );
      form.append('model', config.upstreamModel ?? request.model);
      form.append('response_format', request.responseFormat);
      if (request.language !== undefined) form.append('language', request.language);
      if (request.prompt !== undefined) form.append('prompt', request.prompt);
      if (request.temperature !== undefined)
        form.append('temperature', String(request.temperature));
      const upstream = await callUpstream({
        backend: LABEL,
        url: joinUrl(base, '/audio/transcriptions'),
        init: { method: 'POST', body: form, headers: authHeaders(apiKey) },
        timeoutMs: config.timeoutMs,
        signal: request.signal,
      });
      const contentType = upstream.response.headers.get('content-type') ?? 'application/json';
      return { kind: 'raw', body: await upstream.bytes(), contentType };
    },
  };
}

export function createOpenAiTts(config: TtsConfig, apiKey: string | undefined): TtsBackend {
  const base = config.url ?? '';
  return {
    name: 'openai',
    label: LABEL,
    output: 'passthrough',
    defaultVoice: 'alloy',
    listVoices(): Promise<VoiceCatalog> {
      const voices: string[] = [...OPENAI_VOICES];
      return Promise.resolve({ voices, accepts: (voice) => voices.includes(voice) });
    },
    async synthesize(request): Promise<SynthesizeResult> {
      const upstream = await callUpstream({
        backend: LABEL,
        url: joinUrl(base, '/audio/speech'),
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...authHeaders(apiKey) },
          body: JSON.stringify({
            model: config.upstreamModel ?? request.model,
            input: request.input,
            voice: request.voice,
            response_format: request.format,
            speed: request.speed,
          }),
        },
        timeoutMs: config.timeoutMs,
        signal: request.signal,
      });
      // The deadline covers the answer's head; the body streams through, cancelled with the client.
      upstream.done();
      const body = upstream.response.body;
      const contentType =
        upstream.response.headers.get('content-type') ?? 'application/octet-stream';
      if (body === null) return { kind: 'stream', body: new Blob([]).stream(), contentType };
      return { kind: 'stream', body, contentType };
    },
  };
}
