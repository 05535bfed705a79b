import type { TtsConfig } from '../../config.ts';
import { backendError, commandFailure } from '../../errors.ts';
import { runCommand } from '../../runtime/run-command.ts';
import { AudioError, parseWav, toPcm16 } from '../../audio/wav.ts';
import type { SynthesizeResult, TtsBackend, VoiceCatalog } from '../types.ts';

/**
 * espeak-ng as the embedded TTS: `espeak-ng --stdout -b 1 -v <voice> -s <wpm> --stdin`, the text
 * on stdin (never an argument, so text starting with `-` is still text), a WAV on stdout.
 */

const LABEL = 'espeak-ng';

/** Language codes of `espeak-ng --voices` (`Pty Language Age/Gender VoiceName File ...`). */
export function parseEspeakVoices(output: string): string[] {
  const voices: string[] = [];
  for (const line of output.split('\n').slice(1)) {
    const language = line.trim().split(/\s+/)[1];
    if (language !== undefined && language !== '' && !voices.includes(language)) {
      voices.push(language);
    }
  }
  return voices;
}

/** Variant names of `espeak-ng --voices=variant` (the file column, `!v/Alex` → `Alex`). */
export function parseEspeakVariants(output: string): string[] {
  const variants: string[] = [];
  for (const line of output.split('\n').slice(1)) {
    const file = line.trim().split(/\s+/)[4];
    const name = file?.split('/').pop();
    if (name !== undefined && name !== '' && !variants.includes(name)) variants.push(name);
  }
  return variants;
}

/** Words per minute for OpenAI's `speed` (1 = the configured rate; espeak-ng's floor is 80). */
export function wordsPerMinute(base: number, speed: number): number {
  return Math.round(base * speed);
}

export function createEspeakBackend(config: TtsConfig): TtsBackend {
  const { command, wordsPerMinute: base } = config.local;
  const list = async (args: string[], signal: AbortSignal) => {
    try {
      const { stdout } = await runCommand({
        command,
        args,
        timeoutMs: config.timeoutMs,
        maxStdoutBytes: 1024 * 1024,
        signal,
      });
      return stdout.toString('utf8');
    } catch (err) {
      throw commandFailure(LABEL, err, config.timeoutMs);
    }
  };
  return {
    name: 'local',
    label: LABEL,
    output: 'pcm',
    defaultVoice: 'en-us',
    async listVoices(signal): Promise<VoiceCatalog> {
      const voices = parseEspeakVoices(await list(['--voices'], signal));
      const variants = parseEspeakVariants(await list(['--voices=variant'], signal));
      return {
        voices,
        // `en-us` or a voice with a variant, `en-us+Alex`
        accepts: (voice) => {
          const [language = '', variant, extra] = voice.split('+');
          return (
            extra === undefined &&
            voices.includes(language) &&
            (variant === undefined || variants.includes(variant))
          );
        },
        detail: { variants },
      };
    },
    async synthesize(request): Promise<SynthesizeResult> {
      let stdout: Buffer;
      try {
        ({ stdout } = await runCommand({
          command,
          args: [
            '--stdout',
            '-b',
            '1', // input is UTF-8
            '-v',
            request.voice,
            '-s',
            String(wordsPerMinute(base, request.speed)),
            '--stdin',
          ],
          stdin: request.input,
          timeoutMs: config.timeoutMs,
          maxStdoutBytes: config.maxOutputBytes,
          signal: request.signal,
        }));
      } catch (err) {
        throw commandFailure(LABEL, err, config.timeoutMs);
      }
      if (stdout.length === 0) throw backendError(LABEL, 'it produced no audio');
      try {
        return { kind: 'pcm', audio: toPcm16(parseWav(stdout, { allowEmpty: true })) };
      } catch (err) {
        if (err instanceof AudioError) throw backendError(LABEL, `bad WAV output: ${err.message}`);
        throw err;
      }
    },
  };
}
