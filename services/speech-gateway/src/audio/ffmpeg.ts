import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand, withTempDir } from '../runtime/run-command.ts';
import { which } from '../runtime/which.ts';
import type { AudioFormat, SpeechFormat } from './detect.ts';
import { int16FromBytes } from './wav.ts';

/**
 * ffmpeg, when the machine has it: decodes uploads other than WAV and encodes mp3/opus/aac/flac
 * answers. Never required; without it the gateway reads WAV and writes wav/pcm itself.
 */

/** `auto`: ffmpeg on PATH (or undefined); `off`: undefined; else the configured path, checked. */
export function resolveFfmpeg(setting: string, pathEnv: string | undefined): string | undefined {
  if (setting === 'off') return undefined;
  if (setting === 'auto') return which('ffmpeg', pathEnv);
  const found = which(setting, pathEnv);
  if (found === undefined) throw new Error(`speechGateway.ffmpeg: ${setting} is not an executable`);
  return found;
}

export interface FfmpegRun {
  ffmpeg: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * The demuxer for each format the upload's first bytes were recognised as. ffmpeg never probes
 * an upload: with detection on, a playlist (HLS, ffconcat, SDP…) makes it open URLs or local
 * files it names.
 */
export const DEMUXERS: Record<AudioFormat, string> = {
  wav: 'wav',
  mp3: 'mp3',
  flac: 'flac',
  ogg: 'ogg', // Vorbis, Opus, FLAC in Ogg
  webm: 'matroska', // the demuxer "matroska,webm"
  mp4: 'mov', // the demuxer "mov,mp4,m4a,3gp,3g2,mj2"
};

/**
 * Input options that confine ffmpeg to the one input it was handed: the demuxer forced and the
 * only one allowed (no nested playlist demuxer), and only the protocol that input comes by
 * (`file` for a temp file, `pipe` for stdin) — so no URL and no other file can be opened.
 */
export function confinedInput(format: AudioFormat, protocol: 'file' | 'pipe'): string[] {
  const demuxer = DEMUXERS[format];
  return ['-protocol_whitelist', protocol, '-format_whitelist', demuxer, '-f', demuxer];
}

/**
 * Audio of a recognised format → 16-bit mono samples at `rate` (a temp file: MP4 needs
 * seeking), read with `confinedInput`.
 */
export function ffmpegDecode(
  input: Uint8Array,
  format: AudioFormat,
  rate: number,
  run: FfmpegRun,
): Promise<Int16Array> {
  return withTempDir(async (dir) => {
    const path = join(dir, 'input');
    await writeFile(path, input, { mode: 0o600 });
    const { stdout } = await runCommand({
      command: run.ffmpeg,
      args: ['-hide_banner', '-loglevel', 'error', '-nostdin']
        .concat(confinedInput(format, 'file'), ['-i', path, '-vn', '-ac', '1'])
        .concat(['-ar', String(rate), '-f', 's16le', '-acodec', 'pcm_s16le', 'pipe:1']),
      timeoutMs: run.timeoutMs,
      // 16-bit mono at `rate` for the longest audio an upload could hold (an hour is plenty)
      maxStdoutBytes: rate * 2 * 3600,
      signal: run.signal,
    });
    return int16FromBytes(stdout);
  });
}

const ENCODERS: Record<Exclude<SpeechFormat, 'wav' | 'pcm'>, string[]> = {
  mp3: ['-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3'],
  opus: ['-c:a', 'libopus', '-b:a', '32k', '-f', 'ogg'],
  aac: ['-c:a', 'aac', '-b:a', '64k', '-f', 'adts'],
  flac: ['-c:a', 'flac', '-f', 'flac'],
};

/** A WAV file (ours, or a backend's) → mp3/opus/aac/flac. */
export async function ffmpegEncode(
  wav: Uint8Array,
  format: keyof typeof ENCODERS,
  run: FfmpegRun & { maxOutputBytes: number },
): Promise<Uint8Array> {
  const { stdout } = await runCommand({
    command: run.ffmpeg,
    args: [
      '-hide_banner',
      '-loglevel',
      'error',
      ...confinedInput('wav', 'pipe'),
      '-i',
      'pipe:0',
      ...ENCODERS[format],
      'pipe:1',
    ],
    stdin: wav,
    timeoutMs: run.timeoutMs,
    maxStdoutBytes: run.maxOutputBytes,
    signal: run.signal,
  });
  return stdout;
}

export const FFMPEG_OUTPUTS = Object.keys(ENCODERS) as (keyof typeof ENCODERS)[];
