import type { Transcript, TranscriptFormat, TranscriptSegment } from '../backends/types.ts';

/** A transcript in each of OpenAI's `response_format`s. */

const round = (seconds: number) => Math.round(seconds * 1000) / 1000;

/** The segments, or one covering the whole audio when the backend gave none. */
function segmentsOf(transcript: Transcript): TranscriptSegment[] {
  if (transcript.segments.length > 0 || transcript.text === '') return transcript.segments;
  return [{ id: 0, start: 0, end: transcript.durationS ?? 0, text: transcript.text }];
}

function timestamp(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

export function verboseJson(transcript: Transcript, durationS: number | undefined) {
  const duration = transcript.durationS ?? durationS;
  return {
    task: 'transcribe',
    language: transcript.language ?? 'unknown',
    duration: duration === undefined ? null : round(duration),
    text: transcript.text,
    segments: segmentsOf(transcript).map((segment) => ({
      seek: 0,
      tokens: [],
      temperature: 0,
      ...segment.extra,
      id: segment.id,
      start: round(segment.start),
      end: round(segment.end),
      text: segment.text,
    })),
    ...(transcript.words === undefined
      ? {}
      : {
          words: transcript.words.map((w) => ({
            word: w.word,
            start: round(w.start),
            end: round(w.end),
          })),
        }),
  };
}

export function renderTranscript(
  transcript: Transcript,
  format: TranscriptFormat,
  durationS: number | undefined,
): { body: string; contentType: string } {
  switch (format) {
    case 'json':
      return { body: JSON.stringify({ text: transcript.text }), contentType: 'application/json' };
    case 'verbose_json':
      return {
        body: JSON.stringify(verboseJson(transcript, durationS)),
        contentType: 'application/json',
      };
    case 'text':
      return { body: `${transcript.text}\n`, contentType: 'text/plain; charset=utf-8' };
    case 'srt':
      return {
        body: segmentsOf(transcript)
          .map(
            (s, i) =>
              `${i + 1}\n${timestamp(s.start, ',')} --> ${timestamp(s.end, ',')}\n${s.text}\n\n`,
          )
          .join(''),
        contentType: 'application/x-subrip; charset=utf-8',
      };
    case 'vtt':
      return {
        body: `WEBVTT\n\n${segmentsOf(transcript)
          .map((s) => `${timestamp(s.start, '.')} --> ${timestamp(s.end, '.')}\n${s.text}\n\n`)
          .join('')}`,
        contentType: 'text/vtt; charset=utf-8',
      };
  }
}
