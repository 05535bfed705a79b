import { describe, expect, it } from 'vitest';
import {
  buildJsgf,
  normalisePhrases,
  parseDictionary,
  splitPhrases,
  unknownWords,
} from '../src/backends/local/grammar.ts';
import { parsePocketsphinxOutput } from '../src/backends/local/pocketsphinx.ts';

describe('phrase lists as JSGF grammars', () => {
  it('splits a prompt on newlines and "|", and spells the words as the dictionary does', () => {
    const phrases = splitPhrases("Restart the database.\r\nhello, world | | don't panic\n");
    expect(phrases).toEqual(['Restart the database.', 'hello, world', "don't panic"]);
    expect(normalisePhrases([...phrases, 'HELLO WORLD'])).toEqual([
      ['restart', 'the', 'database'],
      ['hello', 'world'],
      ["don't", 'panic'],
    ]);
  });

  it('writes the grammar the issue describes', () => {
    expect(
      buildJsgf([
        ['restart', 'the', 'database'],
        ['hello', 'world'],
      ]),
    ).toBe(
      '#JSGF V1.0;\ngrammar phrases;\npublic <phrase> = restart the database | hello world ;\n',
    );
    expect(() => buildJsgf([])).toThrow('at least one phrase');
  });

  it('names the words the dictionary lacks, each once', () => {
    const dictionary = parseDictionary('hello HH AH L OW\nhello(2) HH EH L OW\nworld W ER L D\n');
    expect([...dictionary]).toEqual(['hello', 'world']);
    expect(
      unknownWords(
        [
          ['hello', 'wurld'],
          ['wurld', '42'],
        ],
        dictionary,
      ),
    ).toEqual(['wurld', '42']);
  });
});

describe('pocketsphinx -time yes output', () => {
  it('makes a segment per utterance and word timings without fillers', () => {
    const transcript = parsePocketsphinxOutput(
      [
        'restart the database',
        '<s> 0.000 0.120 0.999',
        'restart 0.130 0.460 1.000000',
        'the(2) 0.470 0.640 1.000000',
        'database 0.650 1.240 1.000000',
        '<sil> 1.250 1.620 1.000000',
        'hello world',
        'hello 2.000 2.400 0.9',
        '[NOISE] 2.400 2.500 0.9',
        'world 2.500 2.900 0.9',
        '</s> 2.900 3.000 1.0',
        '',
      ].join('\n'),
    );
    expect(transcript.text).toBe('restart the database hello world');
    expect(transcript.segments).toEqual([
      { id: 0, start: 0, end: 1.62, text: 'restart the database' },
      { id: 1, start: 2, end: 3, text: 'hello world' },
    ]);
    expect(transcript.words?.map((w) => w.word)).toEqual([
      'restart',
      'the',
      'database',
      'hello',
      'world',
    ]);
  });

  it('gives an empty transcript for silence', () => {
    expect(parsePocketsphinxOutput('')).toEqual({ text: '', segments: [], words: [] });
  });
});
