import { readFile } from 'node:fs/promises';

/**
 * Phrase lists as JSGF grammars for pocketsphinx. Open-vocabulary recognition is weak on
 * synthetic and far-field speech; a grammar of a few phrases makes the recogniser choose among
 * them, which it does reliably. Every word must be in the pronunciation dictionary.
 */

/** A phrase list as written in a prompt or config: phrases separated by newlines or `|`. */
export function splitPhrases(text: string): string[] {
  return text
    .split(/\r?\n|\|/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** A phrase's words as the dictionary spells them: lower case, punctuation dropped. */
export function phraseWords(phrase: string): string[] {
  return phrase
    .toLowerCase()
    .split(/[^a-z0-9'-]+/)
    .map((w) => w.replace(/^['-]+|['-]+$/g, ''))
    .filter((w) => w !== '');
}

/** Phrases → word lists, empty and duplicate phrases dropped. */
export function normalisePhrases(phrases: readonly string[]): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const phrase of phrases) {
    const words = phraseWords(phrase);
    const key = words.join(' ');
    if (words.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(words);
  }
  return out;
}

/** `#JSGF V1.0; grammar phrases; public <phrase> = a b | c d ;` */
export function buildJsgf(phrases: readonly (readonly string[])[]): string {
  if (phrases.length === 0) throw new Error('a grammar needs at least one phrase');
  const alternatives = phrases.map((words) => words.join(' ')).join(' | ');
  return `#JSGF V1.0;\ngrammar phrases;\npublic <phrase> = ${alternatives} ;\n`;
}

/** Words of the phrases missing from the dictionary, each once, in order of appearance. */
export function unknownWords(
  phrases: readonly (readonly string[])[],
  dictionary: ReadonlySet<string>,
): string[] {
  const missing: string[] = [];
  for (const words of phrases) {
    for (const word of words) {
      if (!dictionary.has(word) && !missing.includes(word)) missing.push(word);
    }
  }
  return missing;
}

/** The words of a CMU-style dictionary (`word(2)` alternates folded into `word`). */
export function parseDictionary(text: string): Set<string> {
  const words = new Set<string>();
  for (const line of text.split('\n')) {
    const end = line.search(/\s/);
    if (end <= 0) continue;
    words.add(
      line
        .slice(0, end)
        .replace(/\(\d+\)$/, '')
        .toLowerCase(),
    );
  }
  return words;
}

const dictionaries = new Map<string, Promise<Set<string>>>();

/** Loads a dictionary once per path (about 135,000 words for en-us). */
export function loadDictionary(path: string): Promise<Set<string>> {
  let loading = dictionaries.get(path);
  if (loading === undefined) {
    loading = readFile(path, 'utf8').then(parseDictionary);
    loading.catch(() => dictionaries.delete(path)); // retry on the next request
    dictionaries.set(path, loading);
  }
  return loading;
}
