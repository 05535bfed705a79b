import { describe, expect, it } from 'vitest';
import { detectAudioFormat } from '../src/audio/detect.ts';
import { wavToSpeechPcm } from '../src/audio/prepare.ts';
import { resample } from '../src/audio/resample.ts';
import { AudioError, decodeMono, encodeWav, parseWav, toPcm16 } from '../src/audio/wav.ts';
import { toneWav } from './helpers.ts';

/** A WAV with an arbitrary fmt (and optional extra chunks before data). */
function wavWith(
  fmt: { tag: number; channels: number; rate: number; bits: number },
  data: Buffer,
  extra = Buffer.alloc(0),
) {
  const header = Buffer.alloc(36);
  header.write('RIFF', 0);
  header.writeUInt32LE(28 + extra.length + 8 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(fmt.tag, 20);
  header.writeUInt16LE(fmt.channels, 22);
  header.writeUInt32LE(fmt.rate, 24);
  header.writeUInt32LE((fmt.rate * fmt.channels * fmt.bits) / 8, 28);
  header.writeUInt16LE((fmt.channels * fmt.bits) / 8, 32);
  header.writeUInt16LE(fmt.bits, 34);
  const dataHead = Buffer.alloc(8);
  dataHead.write('data', 0);
  dataHead.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, extra, dataHead, data]);
}

/** The strongest frequency of a signal near `candidates` (a crude DFT at those frequencies). */
function power(samples: Float32Array, rate: number, hz: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < samples.length; i++) {
    re += (samples[i] ?? 0) * Math.cos((2 * Math.PI * hz * i) / rate);
    im += (samples[i] ?? 0) * Math.sin((2 * Math.PI * hz * i) / rate);
  }
  return Math.sqrt(re * re + im * im) / samples.length;
}

describe('WAV parsing and conversion', () => {
  it('parses a canonical 16-bit WAV and writes it back byte for byte', () => {
    const wav = toneWav({ rate: 16000, channels: 1, seconds: 0.25 });
    const info = parseWav(wav);
    expect(info).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, frames: 4000 });
    expect(info.durationS).toBeCloseTo(0.25);
    expect(Buffer.from(encodeWav(toPcm16(info)))).toEqual(wav);
  });

  it("reads espeak-ng's streamed WAV, whose sizes are placeholders, up to the end of the file", () => {
    const wav = toneWav({ rate: 22050, channels: 1, seconds: 0.1 });
    wav.writeUInt32LE(0x7fffffff, 4);
    wav.writeUInt32LE(0x7ffff000, 40);
    expect(parseWav(wav).frames).toBe(2205);
  });

  it('skips unknown chunks (LIST) and their padding byte', () => {
    const data = Buffer.alloc(8);
    data.writeInt16LE(1000, 0);
    const list = Buffer.concat([
      Buffer.from('LIST'),
      Buffer.from([3, 0, 0, 0]),
      Buffer.from('abc\0'),
    ]);
    const info = parseWav(wavWith({ tag: 1, channels: 1, rate: 8000, bits: 16 }, data, list));
    expect(info.frames).toBe(4);
    expect(decodeMono(info)[0]).toBeCloseTo(1000 / 32768);
  });

  it('decodes 8, 24 and 32-bit integer and 32/64-bit float samples to the same value', () => {
    const half = (bits: number, float = false) => {
      const b = Buffer.alloc(bits / 8);
      if (float && bits === 32) b.writeFloatLE(0.5);
      else if (float) b.writeDoubleLE(0.5);
      else if (bits === 8) b.writeUInt8(192);
      else if (bits === 24) b.writeIntLE(0x400000, 0, 3);
      else b.writeInt32LE(0x40000000);
      return b;
    };
    for (const [bits, float] of [
      [8, false],
      [24, false],
      [32, false],
      [32, true],
      [64, true],
    ] as const) {
      const info = parseWav(
        wavWith({ tag: float ? 3 : 1, channels: 1, rate: 8000, bits }, half(bits, float)),
      );
      expect(decodeMono(info)[0], `${bits}-bit ${float ? 'float' : 'int'}`).toBeCloseTo(0.5, 4);
    }
  });

  it('downmixes channels by averaging them', () => {
    const data = Buffer.alloc(4);
    data.writeInt16LE(16384, 0);
    data.writeInt16LE(0, 2);
    const info = parseWav(wavWith({ tag: 1, channels: 2, rate: 8000, bits: 16 }, data));
    expect(decodeMono(info)[0]).toBeCloseTo(0.25);
  });

  it.each([
    ['empty', Buffer.alloc(0), 'not a RIFF/WAVE file'],
    ['not RIFF', Buffer.from('ID3\u0004 some mp3'), 'not a RIFF/WAVE file'],
    [
      'no data chunk',
      toneWav({ rate: 8000, channels: 1, seconds: 0.1 }).subarray(0, 36),
      'no data chunk',
    ],
    [
      'no samples',
      toneWav({ rate: 8000, channels: 1, seconds: 0.1 }).subarray(0, 44),
      'no audio samples',
    ],
    [
      'compressed',
      wavWith({ tag: 0x11, channels: 1, rate: 8000, bits: 4 }, Buffer.alloc(10)),
      'encoding 17',
    ],
    ['12-bit', wavWith({ tag: 1, channels: 1, rate: 8000, bits: 12 }, Buffer.alloc(10)), '12-bit'],
    [
      'zero channels',
      wavWith({ tag: 1, channels: 0, rate: 8000, bits: 16 }, Buffer.alloc(10)),
      '0 channels',
    ],
    [
      'rate 0',
      wavWith({ tag: 1, channels: 1, rate: 0, bits: 16 }, Buffer.alloc(10)),
      'out of range',
    ],
  ])('rejects a WAV with %s', (_, bytes, message) => {
    expect(() => parseWav(bytes)).toThrow(AudioError);
    expect(() => parseWav(bytes)).toThrow(message);
  });

  it('turns 44.1 kHz stereo into 16 kHz mono of the same length and pitch', () => {
    const pcm = wavToSpeechPcm(toneWav({ rate: 44100, channels: 2, seconds: 0.5, hz: 440 }));
    expect(pcm.samples.length).toBe(8000);
    expect(pcm.durationS).toBeCloseTo(0.5);
    const floats = Float32Array.from(pcm.samples, (s) => s / 32768);
    expect(power(floats, 16000, 440)).toBeGreaterThan(10 * power(floats, 16000, 880));
  });

  it('filters what the new rate cannot carry instead of folding it into the speech band', () => {
    // 12 kHz at 48 kHz would alias to 4 kHz at 16 kHz without the low-pass
    const rate = 48000;
    const input = Float32Array.from(
      { length: rate / 4 },
      (_, i) => 0.5 * Math.sin((2 * Math.PI * 12000 * i) / rate),
    );
    const out = resample(input, rate, 16000);
    expect(out.length).toBe(4000);
    expect(power(out, 16000, 4000)).toBeLessThan(0.01);
    // while a 1 kHz tone passes at its amplitude
    const tone = Float32Array.from(
      { length: rate / 4 },
      (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate),
    );
    expect(power(resample(tone, rate, 16000), 16000, 1000)).toBeCloseTo(0.25, 1);
  });

  it('recognises formats by their first bytes', () => {
    expect(detectAudioFormat(toneWav({ rate: 8000, channels: 1, seconds: 0.01 }))).toBe('wav');
    expect(detectAudioFormat(Buffer.from('fLaC\0\0\0\x22'))).toBe('flac');
    expect(detectAudioFormat(Buffer.from('OggS\0\x02'))).toBe('ogg');
    expect(detectAudioFormat(Buffer.from('ID3\x04\0\0'))).toBe('mp3');
    expect(detectAudioFormat(Buffer.from([0xff, 0xfb, 0x90, 0x64]))).toBe('mp3');
    expect(detectAudioFormat(Buffer.from('\0\0\0\x20ftypM4A '))).toBe('mp4');
    expect(detectAudioFormat(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f]))).toBe('webm');
    expect(detectAudioFormat(Buffer.from('hello, I am text'))).toBeUndefined();
  });
});
