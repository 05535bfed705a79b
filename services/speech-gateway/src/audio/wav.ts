/**
 * RIFF/WAVE in and out, in TypeScript: the local backends need 16 kHz mono 16-bit PCM and the
 * gateway must not depend on ffmpeg or sox to get it from a WAV upload.
 */

/** The audio is not something we can read; the message is shown to the caller. */
export class AudioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AudioError';
  }
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  encoding: 'pcm' | 'float';
  /** The sample bytes: whole frames only. */
  data: Uint8Array;
  frames: number;
  durationS: number;
}

/** Interleaved 16-bit PCM. */
export interface PcmAudio {
  sampleRate: number;
  channels: number;
  samples: Int16Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

const ascii = (bytes: Uint8Array, at: number) =>
  String.fromCharCode(bytes[at] ?? 0, bytes[at + 1] ?? 0, bytes[at + 2] ?? 0, bytes[at + 3] ?? 0);

export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0) === 'RIFF' && ascii(bytes, 8) === 'WAVE';
}

interface Fmt {
  tag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
}

function readFmt(view: DataView, at: number, size: number): Fmt {
  if (size < 16) throw new AudioError('WAV fmt chunk is shorter than 16 bytes');
  let tag = view.getUint16(at, true);
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 26) throw new AudioError('WAV extensible fmt chunk is truncated');
    tag = view.getUint16(at + 24, true); // the sub-format GUID starts with the format tag
  }
  return {
    tag,
    channels: view.getUint16(at + 2, true),
    sampleRate: view.getUint32(at + 4, true),
    bitsPerSample: view.getUint16(at + 14, true),
  };
}

function checkFmt(fmt: Fmt): 'pcm' | 'float' {
  if (fmt.tag !== WAVE_FORMAT_PCM && fmt.tag !== WAVE_FORMAT_FLOAT) {
    throw new AudioError(
      `WAV encoding ${fmt.tag} is not supported (PCM or IEEE float only; compressed WAV is not)`,
    );
  }
  if (fmt.channels < 1 || fmt.channels > 32) {
    throw new AudioError(`WAV has ${fmt.channels} channels`);
  }
  if (fmt.sampleRate < 1000 || fmt.sampleRate > 384_000) {
    throw new AudioError(`WAV sample rate ${fmt.sampleRate} Hz is out of range`);
  }
  const encoding = fmt.tag === WAVE_FORMAT_FLOAT ? 'float' : 'pcm';
  const bits = encoding === 'float' ? [32, 64] : [8, 16, 24, 32];
  if (!bits.includes(fmt.bitsPerSample)) {
    throw new AudioError(`${fmt.bitsPerSample}-bit ${encoding} WAV is not supported`);
  }
  return encoding;
}

/**
 * Parses a WAV file. A `data` size larger than the file (streamed WAVs such as espeak-ng's
 * `--stdout`, which writes a placeholder) means "up to the end of the file".
 */
export function parseWav(bytes: Uint8Array, options: { allowEmpty?: boolean } = {}): WavInfo {
  if (!isWav(bytes)) throw new AudioError('not a RIFF/WAVE file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: Fmt | undefined;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = ascii(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (body + size > bytes.length) throw new AudioError('WAV fmt chunk is truncated');
      fmt = readFmt(view, body, size);
    } else if (id === 'data') {
      if (fmt === undefined) throw new AudioError('WAV data chunk comes before its fmt chunk');
      const encoding = checkFmt(fmt);
      const frameBytes = fmt.channels * (fmt.bitsPerSample / 8);
      const available = Math.min(size, bytes.length - body);
      const frames = Math.floor(available / frameBytes);
      if (frames === 0 && options.allowEmpty !== true) {
        throw new AudioError('WAV file holds no audio samples');
      }
      return {
        sampleRate: fmt.sampleRate,
        channels: fmt.channels,
        bitsPerSample: fmt.bitsPerSample,
        encoding,
        data: bytes.subarray(body, body + frames * frameBytes),
        frames,
        durationS: frames / fmt.sampleRate,
      };
    }
    at = body + size + (size % 2); // chunks are padded to an even length
  }
  throw new AudioError(
    fmt === undefined ? 'WAV file has no fmt chunk' : 'WAV file has no data chunk',
  );
}

function sampleReader(info: WavInfo): (view: DataView, at: number) => number {
  if (info.encoding === 'float') {
    return info.bitsPerSample === 32
      ? (v, at) => v.getFloat32(at, true)
      : (v, at) => v.getFloat64(at, true);
  }
  switch (info.bitsPerSample) {
    case 8:
      return (v, at) => (v.getUint8(at) - 128) / 128;
    case 16:
      return (v, at) => v.getInt16(at, true) / 32768;
    case 24:
      return (v, at) => ((v.getUint8(at + 2) << 24) | (v.getUint16(at, true) << 8)) / 2 ** 31;
    default:
      return (v, at) => v.getInt32(at, true) / 2 ** 31;
  }
}

/** The samples as floats in [-1, 1], channels averaged into one. */
export function decodeMono(info: WavInfo): Float32Array {
  const read = sampleReader(info);
  const view = new DataView(info.data.buffer, info.data.byteOffset, info.data.byteLength);
  const step = info.bitsPerSample / 8;
  const out = new Float32Array(info.frames);
  let at = 0;
  for (let frame = 0; frame < info.frames; frame++) {
    let sum = 0;
    for (let ch = 0; ch < info.channels; ch++) {
      sum += read(view, at);
      at += step;
    }
    const value = sum / info.channels;
    out[frame] = Number.isFinite(value) ? value : 0;
  }
  return out;
}

/** The file's samples as interleaved 16-bit PCM, channels kept. */
export function toPcm16(info: WavInfo): PcmAudio {
  const count = info.frames * info.channels;
  const samples = new Int16Array(count);
  const view = new DataView(info.data.buffer, info.data.byteOffset, info.data.byteLength);
  if (info.encoding === 'pcm' && info.bitsPerSample === 16) {
    for (let i = 0; i < count; i++) samples[i] = view.getInt16(i * 2, true);
  } else {
    const read = sampleReader(info);
    const step = info.bitsPerSample / 8;
    for (let i = 0; i < count; i++) samples[i] = floatToInt16Sample(read(view, i * step));
  }
  return { sampleRate: info.sampleRate, channels: info.channels, samples };
}

function floatToInt16Sample(value: number): number {
  if (!Number.isFinite(value)) return 0;
  const scaled = Math.round(value * 32767);
  return scaled > 32767 ? 32767 : scaled < -32768 ? -32768 : scaled;
}

export function floatToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = floatToInt16Sample(samples[i] ?? 0);
  return out;
}

export function int16ToFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = (samples[i] ?? 0) / 32768;
  return out;
}

/** Little-endian bytes of 16-bit samples (what WAV, Wyoming and OpenAI's `pcm` carry). */
export function int16Bytes(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i] ?? 0, true);
  return out;
}

/** Samples from little-endian 16-bit bytes (an odd trailing byte is dropped). */
export function int16FromBytes(bytes: Uint8Array): Int16Array {
  const count = Math.floor(bytes.length / 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
  const out = new Int16Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** A canonical 44-byte-header PCM WAV file. */
export function encodeWav(audio: PcmAudio): Uint8Array {
  const dataBytes = audio.samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const text = (at: number, value: string) => {
    for (let i = 0; i < value.length; i++) out[at + i] = value.charCodeAt(i);
  };
  text(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, WAVE_FORMAT_PCM, true);
  view.setUint16(22, audio.channels, true);
  view.setUint32(24, audio.sampleRate, true);
  view.setUint32(28, audio.sampleRate * audio.channels * 2, true);
  view.setUint16(32, audio.channels * 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, dataBytes, true);
  out.set(int16Bytes(audio.samples), 44);
  return out;
}

/** Channels averaged into one. */
export function downmix(audio: PcmAudio): Float32Array {
  const frames = Math.floor(audio.samples.length / audio.channels);
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let ch = 0; ch < audio.channels; ch++) sum += audio.samples[f * audio.channels + ch] ?? 0;
    out[f] = sum / audio.channels / 32768;
  }
  return out;
}
