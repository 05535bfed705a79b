import { fieldError, commandFailure } from '../errors.ts';
import { CommandError } from '../runtime/run-command.ts';
import { AUDIO_FORMATS, type AudioFormat } from './detect.ts';
import { ffmpegDecode } from './ffmpeg.ts';
import { resample } from './resample.ts';
import { AudioError, decodeMono, floatToInt16, parseWav } from './wav.ts';

/** What recognisers (pocketsphinx, Wyoming's faster-whisper) listen to: 16 kHz mono 16-bit. */
export const SPEECH_RATE = 16_000;

export interface SpeechPcm {
  samples: Int16Array;
  durationS: number;
}

export interface AudioTools {
  /** Path of ffmpeg, when there is one. */
  ffmpeg: string | undefined;
  timeoutMs: number;
}

/** The upload formats the gateway can turn into speech PCM, for error messages and /v1/models. */
export function supportedUploads(tools: Pick<AudioTools, 'ffmpeg'>): string {
  return tools.ffmpeg === undefined
    ? 'WAV (PCM 8/16/24/32-bit or 32/64-bit float, any rate and channel count)'
    : `${AUDIO_FORMATS.join(', ')} (through ffmpeg)`;
}

/** Reads a WAV upload in TypeScript: parse, downmix, resample to 16 kHz. */
export function wavToSpeechPcm(bytes: Uint8Array): SpeechPcm {
  const info = parseWav(bytes);
  const mono = resample(decodeMono(info), info.sampleRate, SPEECH_RATE);
  return { samples: floatToInt16(mono), durationS: info.durationS };
}

/**
 * The upload as speech PCM, or a 400 naming `file`: WAV is read here; other recognised formats
 * go through ffmpeg with their demuxer forced. What its first bytes do not name is refused
 * before ffmpeg runs (a playlist could make it open URLs or local files).
 */
export async function toSpeechPcm(
  bytes: Uint8Array,
  format: AudioFormat | undefined,
  tools: AudioTools,
  signal?: AbortSignal,
): Promise<SpeechPcm> {
  if (format === undefined) {
    throw fieldError('file', `unrecognised audio: send ${supportedUploads(tools)}`);
  }
  if (format === 'wav') {
    try {
      return wavToSpeechPcm(bytes);
    } catch (err) {
      // ffmpeg may still read what we cannot (compressed WAV); otherwise the caller erred
      if (!(err instanceof AudioError) || tools.ffmpeg === undefined) throw asFileError(err);
    }
  }
  if (tools.ffmpeg === undefined) {
    throw fieldError(
      'file',
      `${format} is not supported here: send ${supportedUploads(tools)} (install ffmpeg for other formats)`,
    );
  }
  try {
    const samples = await ffmpegDecode(bytes, format, SPEECH_RATE, {
      ffmpeg: tools.ffmpeg,
      timeoutMs: tools.timeoutMs,
      signal,
    });
    if (samples.length === 0) throw fieldError('file', 'the audio holds no samples');
    return { samples, durationS: samples.length / SPEECH_RATE };
  } catch (err) {
    if (err instanceof CommandError && err.kind === 'failed') {
      throw fieldError(
        'file',
        `ffmpeg could not decode the upload as ${format} (corrupt or not audio)`,
      );
    }
    if (err instanceof CommandError) throw commandFailure('ffmpeg', err, tools.timeoutMs);
    throw err;
  }
}

function asFileError(err: unknown): unknown {
  return err instanceof AudioError ? fieldError('file', `unreadable WAV: ${err.message}`) : err;
}
