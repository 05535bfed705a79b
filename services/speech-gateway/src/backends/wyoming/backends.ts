import { int16FromBytes, type PcmAudio } from '../../audio/wav.ts';
import { SPEECH_RATE } from '../../audio/prepare.ts';
import type { SttConfig, TtsConfig } from '../../config.ts';
import { backendError, backendTimeout, clientGone } from '../../errors.ts';
import type {
  SttBackend,
  SynthesizeResult,
  TranscribeResult,
  TtsBackend,
  VoiceCatalog,
} from '../types.ts';
import { parseWyomingUrl, WyomingError, wyomingExchange } from './client.ts';
import type { WyomingEvent } from './framing.ts';

/**
 * faster-whisper (STT) and Piper (TTS) over the Wyoming protocol:
 * `transcribe`, `audio-start`, `audio-chunk`…, `audio-stop` → `transcript`;
 * `synthesize` → `audio-start`, `audio-chunk`…, `audio-stop`; `describe` → `info`.
 */

/** Samples per `audio-chunk`, as Wyoming's own tools send them. */
export const SAMPLES_PER_CHUNK = 1024;

function wyomingFailure(err: unknown, timeoutMs: number): unknown {
  if (!(err instanceof WyomingError)) return err;
  switch (err.kind) {
    case 'timeout':
      return backendTimeout('wyoming', timeoutMs, err);
    case 'aborted':
      return clientGone(err);
    case 'connect':
    case 'closed':
    case 'protocol':
    case 'peer-error':
    case 'too-large':
      return backendError('wyoming', err.message, { cause: err });
  }
}

/** The events that stream 16 kHz mono audio to a recogniser. */
export function* transcribeEvents(
  samples: Int16Array,
  options: { language?: string; model?: string } = {},
): Generator<WyomingEvent> {
  const format = { rate: SPEECH_RATE, width: 2, channels: 1 };
  const transcribe: Record<string, unknown> = {};
  if (options.model !== undefined) transcribe.name = options.model;
  if (options.language !== undefined) transcribe.language = options.language;
  yield { type: 'transcribe', data: transcribe };
  yield { type: 'audio-start', data: { ...format, timestamp: 0 } };
  for (let at = 0; at < samples.length; at += SAMPLES_PER_CHUNK) {
    const chunk = samples.subarray(at, at + SAMPLES_PER_CHUNK);
    const bytes = new Uint8Array(chunk.length * 2);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < chunk.length; i++) view.setInt16(i * 2, chunk[i] ?? 0, true);
    const timestamp = Math.round((at / SPEECH_RATE) * 1000);
    yield { type: 'audio-chunk', data: { ...format, timestamp }, payload: bytes };
  }
  yield {
    type: 'audio-stop',
    data: { timestamp: Math.round((samples.length / SPEECH_RATE) * 1000) },
  };
}

export function createWyomingStt(config: SttConfig): SttBackend {
  const target = parseWyomingUrl(config.url ?? '');
  return {
    name: 'wyoming',
    label: 'wyoming',
    needsPcm: true,
    async transcribe(request): Promise<TranscribeResult> {
      const pcm = request.pcm;
      if (pcm === undefined) throw new Error('wyoming transcribe needs decoded audio');
      let events: WyomingEvent[];
      try {
        events = await wyomingExchange(target, {
          send: transcribeEvents(pcm.samples, {
            language: request.language,
            model: config.upstreamModel,
          }),
          until: (event) => event.type === 'transcript',
          timeoutMs: config.timeoutMs,
          signal: request.signal,
        });
      } catch (err) {
        throw wyomingFailure(err, config.timeoutMs);
      }
      const data = events[events.length - 1]?.data ?? {};
      if (typeof data.text !== 'string') {
        throw backendError('wyoming', 'the transcript event has no text');
      }
      const text = data.text.trim();
      const language = typeof data.language === 'string' ? data.language : request.language;
      return {
        kind: 'transcript',
        transcript: {
          text,
          ...(language === undefined ? {} : { language }),
          durationS: pcm.durationS,
          segments: text === '' ? [] : [{ id: 0, start: 0, end: pcm.durationS, text }],
        },
      };
    },
  };
}

const num = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;

/** The audio of a `synthesize` answer: the format of `audio-start`, the chunks' payloads. */
export function collectAudio(events: readonly WyomingEvent[]): PcmAudio {
  const start = events.find((e) => e.type === 'audio-start' || e.type === 'audio-chunk');
  const rate = num(start?.data?.rate);
  const width = num(start?.data?.width);
  const channels = num(start?.data?.channels);
  if (rate === undefined || width === undefined || channels === undefined) {
    throw backendError(
      'wyoming',
      'the answer does not say its audio format (rate, width, channels)',
    );
  }
  if (width !== 2) throw backendError('wyoming', `${width * 8}-bit audio is not supported`);
  const chunks = events.filter((e) => e.type === 'audio-chunk' && e.payload !== undefined);
  const total = chunks.reduce((n, e) => n + (e.payload?.length ?? 0), 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk.payload as Uint8Array, at);
    at += chunk.payload?.length ?? 0;
  }
  return { sampleRate: rate, channels, samples: int16FromBytes(bytes) };
}

/** Voice names of a Wyoming `info` event (every TTS program's voices). */
export function voicesOfInfo(info: WyomingEvent): string[] {
  const programs = Array.isArray(info.data?.tts) ? (info.data.tts as unknown[]) : [];
  const names: string[] = [];
  for (const program of programs) {
    const voices = (program as { voices?: unknown }).voices;
    if (!Array.isArray(voices)) continue;
    for (const voice of voices) {
      const name = (voice as { name?: unknown }).name;
      if (typeof name === 'string' && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

export function createWyomingTts(config: TtsConfig): TtsBackend {
  const target = parseWyomingUrl(config.url ?? '');
  return {
    name: 'wyoming',
    label: 'wyoming',
    output: 'pcm',
    async listVoices(signal): Promise<VoiceCatalog> {
      let events: WyomingEvent[];
      try {
        events = await wyomingExchange(target, {
          send: [{ type: 'describe' }],
          until: (event) => event.type === 'info',
          timeoutMs: config.timeoutMs,
          signal,
        });
      } catch (err) {
        throw wyomingFailure(err, config.timeoutMs);
      }
      const voices = voicesOfInfo(events[events.length - 1] ?? { type: 'info' });
      return { voices, accepts: (voice) => voices.includes(voice) };
    },
    async synthesize(request): Promise<SynthesizeResult> {
      let events: WyomingEvent[];
      try {
        events = await wyomingExchange(target, {
          send: [
            { type: 'synthesize', data: { text: request.input, voice: { name: request.voice } } },
          ],
          until: (event) => event.type === 'audio-stop',
          timeoutMs: config.timeoutMs,
          signal: request.signal,
          maxPayloadBytes: config.maxOutputBytes,
        });
      } catch (err) {
        throw wyomingFailure(err, config.timeoutMs);
      }
      const audio = collectAudio(events);
      if (audio.samples.length === 0) throw backendError('wyoming', 'the answer holds no audio');
      return { kind: 'pcm', audio };
    },
  };
}
