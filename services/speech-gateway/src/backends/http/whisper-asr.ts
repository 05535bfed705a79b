import type { SttConfig } from '../../config.ts';
import { backendError } from '../../errors.ts';
import type { SttBackend, TranscribeResult, Transcript, TranscriptSegment } from '../types.ts';
import { callUpstream, joinUrl } from './upstream.ts';

/**
 * whisper-asr-webservice (onerahmet/openai-whisper-asr-webservice):
 * `POST {url}/asr?task=transcribe&output=json&encode=true[&language=..][&initial_prompt=..]`,
 * multipart field `audio_file`. Its JSON (`text`, `segments`, `language`) is mapped to OpenAI's
 * shapes by the gateway.
 */

const LABEL = 'whisper-asr';

interface WhisperSegment {
  id?: unknown;
  start?: unknown;
  end?: unknown;
  text?: unknown;
  [key: string]: unknown;
}

const num = (value: unknown, fallback: number) =>
  typeof value === 'number' && Number.isFinite(value) ? value : fallback;

/** whisper's result → a transcript; fields beyond id/start/end/text pass through. */
export function mapWhisperResult(body: unknown, durationS: number | undefined): Transcript {
  if (
    typeof body !== 'object' ||
    body === null ||
    typeof (body as { text?: unknown }).text !== 'string'
  ) {
    throw backendError(LABEL, 'the answer is not whisper JSON (no "text")');
  }
  const result = body as { text: string; language?: unknown; segments?: unknown };
  const raw = Array.isArray(result.segments) ? (result.segments as WhisperSegment[]) : [];
  const segments: TranscriptSegment[] = raw.map((segment, index) => {
    const { id, start, end, text, ...extra } = segment;
    return {
      id: num(id, index),
      start: num(start, 0),
      end: num(end, 0),
      text: typeof text === 'string' ? text.trim() : '',
      extra,
    };
  });
  const last = segments[segments.length - 1];
  const duration = durationS ?? last?.end;
  return {
    text: result.text.trim(),
    ...(typeof result.language === 'string' ? { language: result.language } : {}),
    ...(duration === undefined ? {} : { durationS: duration }),
    segments,
  };
}

export function createWhisperAsrBackend(config: SttConfig): SttBackend {
  const base = config.url ?? '';
  return {
    name: 'whisper-asr',
    label: LABEL,
    needsPcm: false,
    async transcribe(request): Promise<TranscribeResult> {
      const query = new URLSearchParams({ task: 'transcribe', output: 'json', encode: 'true' });
      if (request.language !== undefined) query.set('language', request.language);
      if (request.prompt !== undefined && request.prompt !== '') {
        query.set('initial_prompt', request.prompt);
      }
      const form = new FormData();
      form.append(
        'audio_file',
        new Blob([request.file.bytes], { type: request.file.type || 'application/octet-stream' }),
        request.file.name,
      );
      const upstream = await callUpstream({
        backend: LABEL,
        url: joinUrl(base, `/asr?${query.toString()}`),
        init: { method: 'POST', body: form, headers: { accept: 'application/json' } },
        timeoutMs: config.timeoutMs,
        signal: request.signal,
      });
      const bytes = await upstream.bytes();
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      } catch {
        throw backendError(LABEL, 'the answer is not JSON');
      }
      return { kind: 'transcript', transcript: mapWhisperResult(body, request.pcm?.durationS) };
    },
  };
}
