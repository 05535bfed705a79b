import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeWav } from '../../audio/wav.ts';
import { SPEECH_RATE } from '../../audio/prepare.ts';
import type { SttConfig } from '../../config.ts';
import { commandFailure, fieldError } from '../../errors.ts';
import { CommandError, runCommand, withTempDir } from '../../runtime/run-command.ts';
import type {
  SttBackend,
  TranscribeResult,
  Transcript,
  TranscriptSegment,
  TranscriptWord,
} from '../types.ts';
import {
  buildJsgf,
  loadDictionary,
  normalisePhrases,
  splitPhrases,
  unknownWords,
} from './grammar.ts';

/**
 * pocketsphinx as the embedded STT: `pocketsphinx_continuous -infile <16 kHz mono WAV>` with the
 * en-us model, open vocabulary (`-lm`) or, given a phrase list, a JSGF grammar (`-jsgf`).
 * `-time yes` adds word timings, which become verbose_json's segments and words.
 */

const LABEL = 'pocketsphinx';

const isNumber = (token: string | undefined) =>
  token !== undefined && /^-?\d+(\.\d+)?$/.test(token);

/** Silence, noise and sentence markers: `<s>`, `</s>`, `<sil>`, `[NOISE]`, `++UH++`. */
const isFiller = (word: string) => /^(<.*>|\[.*\]|\+\+.*\+\+)$/.test(word);

/**
 * Output of `-time yes`: per utterance a hypothesis line, then `word start end probability`
 * lines. Each utterance becomes a segment.
 */
export function parsePocketsphinxOutput(stdout: string): Transcript {
  const segments: TranscriptSegment[] = [];
  const words: TranscriptWord[] = [];
  let current: { text: string; start?: number; end?: number } | undefined;
  const close = () => {
    if (current !== undefined && current.text !== '') {
      segments.push({
        id: segments.length,
        start: current.start ?? 0,
        end: current.end ?? current.start ?? 0,
        text: current.text,
      });
    }
    current = undefined;
  };
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const tokens = line.split(/\s+/);
    if (tokens.length === 4 && tokens.slice(1).every(isNumber)) {
      const word = (tokens[0] ?? '').replace(/\(\d+\)$/, '');
      const start = Number(tokens[1]);
      const end = Number(tokens[2]);
      current ??= { text: '' };
      current.start ??= start;
      current.end = end;
      if (!isFiller(word)) words.push({ word, start, end });
      continue;
    }
    close();
    current = { text: line };
  }
  close();
  return { text: segments.map((s) => s.text).join(' '), segments, words };
}

export function createPocketsphinxBackend(config: SttConfig): SttBackend {
  const local = config.local;

  /** The request's phrase list (its prompt), else the configured one; 400 naming the source. */
  const phrasesFor = async (prompt: string | undefined): Promise<string[][] | undefined> => {
    const fromPrompt = local.promptAsPhrases && prompt !== undefined && prompt.trim() !== '';
    const source = fromPrompt ? 'prompt' : 'speechGateway.stt.local.phrases';
    const phrases = normalisePhrases(fromPrompt ? splitPhrases(prompt) : local.phrases);
    if (phrases.length === 0) return undefined;
    if (phrases.length > local.maxPhrases) {
      throw fieldError(source, `at most ${local.maxPhrases} phrases (got ${phrases.length})`);
    }
    const missing = unknownWords(phrases, await loadDictionary(local.dict));
    if (missing.length > 0) {
      throw fieldError(
        source,
        `words not in the pronunciation dictionary: ${missing.join(', ')} (spell numbers and symbols out)`,
        { unknownWords: missing },
      );
    }
    return phrases;
  };

  return {
    name: 'local',
    label: LABEL,
    needsPcm: true,
    languages: ['en'],
    async start() {
      if (local.phrases.length === 0) return;
      try {
        await phrasesFor(undefined);
      } catch (err) {
        throw new Error(`speechGateway.stt.local.phrases: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    async check(request) {
      await phrasesFor(request.prompt);
    },
    async transcribe(request): Promise<TranscribeResult> {
      const pcm = request.pcm;
      if (pcm === undefined) throw new Error('pocketsphinx needs decoded audio');
      const phrases = await phrasesFor(request.prompt);
      const transcript = await withTempDir(async (dir) => {
        const audio = join(dir, 'audio.wav');
        const log = join(dir, 'pocketsphinx.log');
        await writeFile(
          audio,
          encodeWav({ sampleRate: SPEECH_RATE, channels: 1, samples: pcm.samples }),
          { mode: 0o600 },
        );
        const args = ['-infile', audio, '-logfn', log, '-hmm', local.hmm, '-dict', local.dict];
        args.push('-samprate', String(SPEECH_RATE), '-time', 'yes');
        if (phrases === undefined) {
          args.push('-lm', local.lm);
        } else {
          const grammar = join(dir, 'phrases.gram');
          await writeFile(grammar, buildJsgf(phrases), { mode: 0o600 });
          args.push('-jsgf', grammar);
        }
        try {
          const { stdout, durationMs } = await runCommand({
            command: local.command,
            args,
            timeoutMs: config.timeoutMs,
            maxStdoutBytes: 8 * 1024 * 1024,
            signal: request.signal,
          });
          request.log.debug(
            { durationMs, grammar: phrases?.length ?? 0, audioS: pcm.durationS },
            'pocketsphinx done',
          );
          return parsePocketsphinxOutput(stdout.toString('utf8'));
        } catch (err) {
          if (err instanceof CommandError && err.kind === 'failed') {
            // its own log says why; keep the end of it in ours
            const tail = await readFile(log, 'utf8').then(
              (text) =>
                text
                  .split('\n')
                  .filter((l) => /ERROR|FATAL/.test(l))
                  .slice(-5),
              () => [],
            );
            request.log.warn({ err, exitCode: err.exitCode, log: tail }, 'pocketsphinx failed');
          }
          throw commandFailure(LABEL, err, config.timeoutMs);
        }
      });
      return {
        kind: 'transcript',
        transcript: { ...transcript, language: request.language ?? 'en', durationS: pcm.durationS },
      };
    },
  };
}
