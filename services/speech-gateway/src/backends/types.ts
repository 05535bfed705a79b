import type { Logger } from '@datamancy/core';
import type { AudioFormat, SpeechFormat } from '../audio/detect.ts';
import type { SpeechPcm } from '../audio/prepare.ts';
import type { PcmAudio } from '../audio/wav.ts';
import type { SttBackendName, TtsBackendName } from '../config.ts';

/** The seams between the HTTP layer and the speech engines. */

export const TRANSCRIPT_FORMATS = ['json', 'text', 'verbose_json', 'srt', 'vtt'] as const;
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
}

export interface TranscriptSegment {
  id: number;
  start: number;
  end: number;
  text: string;
  /** Upstream fields passed through to verbose_json (tokens, avg_logprob, ...). */
  extra?: Record<string, unknown>;
}

export interface Transcript {
  text: string;
  language?: string;
  durationS?: number;
  segments: TranscriptSegment[];
  words?: TranscriptWord[];
}

export interface UploadedAudio {
  bytes: Uint8Array;
  name: string;
  type: string;
  /** By content, not by name. */
  format: AudioFormat | undefined;
}

export interface TranscribeRequest {
  file: UploadedAudio;
  /** 16 kHz mono PCM, present for backends with `needsPcm`. */
  pcm?: SpeechPcm;
  model: string;
  language?: string;
  prompt?: string;
  responseFormat: TranscriptFormat;
  temperature?: number;
  signal: AbortSignal;
  log: Logger;
}

export type TranscribeResult =
  | { kind: 'transcript'; transcript: Transcript }
  /** The upstream's own answer in the asked-for format (OpenAI-compatible upstreams). */
  | { kind: 'raw'; body: Uint8Array; contentType: string };

export interface SttBackend {
  readonly name: SttBackendName;
  /** What errors and logs call it, e.g. "pocketsphinx". */
  readonly label: string;
  /** The gateway decodes the upload to 16 kHz mono PCM before calling `transcribe`. */
  readonly needsPcm: boolean;
  /** Languages understood; undefined: whatever the upstream accepts. */
  readonly languages?: readonly string[];
  /** Start-up checks (configured phrases against the dictionary); throws to stop the start. */
  start?(): Promise<void>;
  /** Checks the request's fields before the audio is decoded; throws 400 naming the field. */
  check?(request: Pick<TranscribeRequest, 'prompt' | 'language'>): Promise<void>;
  transcribe(request: TranscribeRequest): Promise<TranscribeResult>;
}

export interface VoiceCatalog {
  /** The voices to list. */
  voices: string[];
  /** Whether a voice name is accepted (may allow forms not listed, e.g. espeak variants). */
  accepts(voice: string): boolean;
  /** Extra detail for /v1/models (e.g. espeak variants). */
  detail?: Record<string, unknown>;
}

export interface SynthesizeRequest {
  input: string;
  voice: string;
  model: string;
  format: SpeechFormat;
  speed: number;
  signal: AbortSignal;
  log: Logger;
}

export type SynthesizeResult =
  | { kind: 'pcm'; audio: PcmAudio }
  | { kind: 'stream'; body: ReadableStream<Uint8Array>; contentType: string };

export interface TtsBackend {
  readonly name: TtsBackendName;
  readonly label: string;
  /** `pcm`: the gateway encodes the answer (wav, pcm, ffmpeg's); `passthrough`: the upstream does. */
  readonly output: 'pcm' | 'passthrough';
  /** The voice used when neither the request nor the config names one. */
  readonly defaultVoice?: string;
  /** The backend's voices (cached by the caller). */
  listVoices(signal: AbortSignal): Promise<VoiceCatalog>;
  synthesize(request: SynthesizeRequest): Promise<SynthesizeResult>;
}
