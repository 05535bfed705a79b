import { readValidated, requestSignal, type ServiceApp } from '@datamancy/core';
import { SPEECH_CONTENT_TYPES, type SpeechFormat } from '../audio/detect.ts';
import { FFMPEG_OUTPUTS, ffmpegEncode } from '../audio/ffmpeg.ts';
import { resample } from '../audio/resample.ts';
import { downmix, encodeWav, floatToInt16, int16Bytes, type PcmAudio } from '../audio/wav.ts';
import { OPENAI_SPEECH_FORMATS } from '../backends/http/openai.ts';
import type { TtsBackend } from '../backends/types.ts';
import { commandFailure, fieldError } from '../errors.ts';
import { runJob, type GatewayDeps } from './deps.ts';
import { createSpeechSchema } from './schemas.ts';

/** OpenAI's `pcm`: raw 24 kHz mono 16-bit little-endian samples. */
export const PCM_RATE = 24_000;

/** The formats a speech request may ask this backend for; the first is the default. */
export function speechFormats(backend: TtsBackend, ffmpeg: string | undefined): SpeechFormat[] {
  if (backend.output === 'passthrough') return [...OPENAI_SPEECH_FORMATS];
  return ['wav', 'pcm', ...(ffmpeg === undefined ? [] : FFMPEG_OUTPUTS)];
}

async function encodeSpeech(
  audio: PcmAudio,
  format: SpeechFormat,
  deps: GatewayDeps,
  signal: AbortSignal,
): Promise<Uint8Array> {
  switch (format) {
    case 'wav':
      return encodeWav(audio);
    case 'pcm':
      return int16Bytes(floatToInt16(resample(downmix(audio), audio.sampleRate, PCM_RATE)));
    case 'mp3':
    case 'opus':
    case 'aac':
    case 'flac': {
      const ffmpeg = deps.tools.ffmpeg;
      if (ffmpeg === undefined) throw new Error(`${format} offered without ffmpeg`);
      try {
        return await ffmpegEncode(encodeWav(audio), format, {
          ffmpeg,
          timeoutMs: deps.config.tts.timeoutMs,
          maxOutputBytes: deps.config.tts.maxOutputBytes,
          signal,
        });
      } catch (err) {
        throw commandFailure('ffmpeg', err, deps.config.tts.timeoutMs);
      }
    }
  }
}

export function registerSpeechRoutes(app: ServiceApp, deps: GatewayDeps): void {
  const { config } = deps;
  const backend = deps.backends.tts;
  const schema = createSpeechSchema(config);
  const formats = speechFormats(backend, deps.tools.ffmpeg);
  // UTF-8 text takes up to 4 bytes a character; the rest of the JSON is small
  const limitBytes = config.maxInputChars * 4 + 64 * 1024;

  app.post('/v1/audio/speech', async (c) => {
    const signal = requestSignal(c);
    const request = await readValidated(c, schema, { limitBytes });
    const model = request.model ?? config.tts.models[0] ?? 'tts-1';
    if (!config.tts.models.includes(model)) {
      throw fieldError(
        'model',
        `unknown model "${model}"; models: ${config.tts.models.join(', ')}`,
      );
    }
    const format = request.response_format ?? formats[0] ?? 'wav';
    if (!formats.includes(format)) {
      throw fieldError(
        'response_format',
        `${backend.label} answers in ${formats.join(', ')}; "${format}" needs ffmpeg or an upstream that encodes it`,
      );
    }
    const voice = await deps.voices.resolve(request.voice, signal);
    const log = c.get('log');
    const result = await runJob(
      deps,
      { operation: 'speech', backend: backend.name, signal, log: c.get('log') },
      async () => {
        const answer = await backend.synthesize({
          input: request.input,
          voice,
          model,
          format,
          speed: request.speed,
          signal,
          log,
        });
        if (answer.kind === 'stream') return answer;
        const seconds =
          answer.audio.samples.length / answer.audio.channels / answer.audio.sampleRate;
        deps.metrics.audioSeconds.inc({ operation: 'speech' }, seconds);
        const body = await encodeSpeech(answer.audio, format, deps, signal);
        return { kind: 'bytes' as const, body, seconds };
      },
    );
    if (result.kind === 'stream') {
      log.info({ backend: backend.label, voice, format }, 'speech streamed from upstream');
      return new Response(result.body, {
        status: 200,
        headers: { 'content-type': result.contentType },
      });
    }
    log.info(
      {
        backend: backend.label,
        voice,
        format,
        bytes: result.body.length,
        audioS: Math.round(result.seconds * 1000) / 1000,
      },
      'speech synthesised',
    );
    return c.body(new Uint8Array(result.body), 200, {
      'content-type': SPEECH_CONTENT_TYPES[format],
      'x-audio-duration-s': result.seconds.toFixed(3),
    });
  });
}
