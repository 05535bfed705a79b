/** Audio container formats recognised by their first bytes (the upload's name and type can lie). */

export const AUDIO_FORMATS = ['wav', 'mp3', 'flac', 'ogg', 'webm', 'mp4'] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];

const startsWith = (bytes: Uint8Array, text: string, at = 0) =>
  bytes.length >= at + text.length &&
  [...text].every((ch, i) => bytes[at + i] === ch.charCodeAt(0));

export function detectAudioFormat(bytes: Uint8Array): AudioFormat | undefined {
  if (startsWith(bytes, 'RIFF') && startsWith(bytes, 'WAVE', 8)) return 'wav';
  if (startsWith(bytes, 'fLaC')) return 'flac';
  if (startsWith(bytes, 'OggS')) return 'ogg';
  if (startsWith(bytes, 'ftyp', 4)) return 'mp4'; // mp4, m4a, mov
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) {
    return 'webm'; // Matroska/WebM
  }
  if (startsWith(bytes, 'ID3')) return 'mp3';
  // an MPEG audio frame sync: 11 set bits, then a valid version and layer
  const b1 = bytes[1] ?? 0;
  if (bytes[0] === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x18) !== 0x08 && (b1 & 0x06) !== 0) {
    return 'mp3';
  }
  return undefined;
}

/** MIME types of the formats a speech request may ask for. */
export const SPEECH_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];

export const SPEECH_CONTENT_TYPES: Record<SpeechFormat, string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg; codecs=opus',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};
