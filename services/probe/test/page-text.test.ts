import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsrfGuard, DEFAULT_ALLOW_HOSTS } from '@datamancy/core';
import { ProbeHttp, runHttpCheck } from '../src/checks/http.ts';
import {
  charsetOf,
  decodeBody,
  decodeReferences,
  htmlText,
  MAX_TEXT_CHARS,
  MAX_TITLE_CHARS,
} from '../src/checks/page-text.ts';
import { findSignatures } from '../src/judge/signatures.ts';
import type { HttpCheck } from '../src/manifest/schema.ts';

/** HTML to text is total: every input, however hostile, gives bounded text and never throws. */

const FFFD = '\ufffd';

describe('character references', () => {
  it('decodes &#9999999; (past U+10FFFF) to U+FFFD instead of throwing', () => {
    expect(htmlText('<p>a&#9999999;b</p>').text).toBe(`a${FFFD}b`);
  });

  it('maps zero, surrogates, out-of-range and huge numbers to U+FFFD, and C1 references as HTML does', () => {
    const cases: [string, string][] = [
      ['&#0;', FFFD],
      ['&#x0;', FFFD],
      ['&#xD800;', FFFD],
      ['&#57343;', FFFD],
      ['&#x110000;', FFFD],
      ['&#1114112;', FFFD],
      ['&#99999999999999999999999999999999;', FFFD],
      ['&#xFFFFFFFFFFFFFFFFFFFF;', FFFD],
      ['&#x10FFFF;', '\u{10ffff}'],
      ['&#0000000065;', 'A'],
      ['&#x41;&#X42;&#67;', 'ABC'],
      ['&#128;&#x99;', '€™'],
      ['&amp;&lt;&gt;&quot;&apos;&AMP;', `&<>"'&`],
      ['&nosuchentity;', '&nosuchentity;'],
      ['&#;&#x;&#xg;&#-1;&;', '&#;&#x;&#xg;&#-1;&;'],
      ['&#65', '&#65'],
    ];
    for (const [input, want] of cases) expect(decodeReferences(input), input).toBe(want);
  });
});

describe('HTML to text', () => {
  it('keeps the title apart and drops scripts, styles, comments and tags', () => {
    const page = htmlText(
      '<!doctype html><html><head><title>My &amp; Forum</title><style>p{}</style><script>var x="<p>no</p>";</script></head>' +
        '<body><!-- hidden --><h1>Hello</h1><p>a &lt; b<br>c</p><textarea>draft</textarea></body></html>',
    );
    expect(page.title).toBe('My & Forum');
    expect(page.text).toBe('Hello\na < b\nc');
  });

  it('survives unterminated tags, comments, scripts and titles', () => {
    expect(htmlText('<p>before<!-- never closed').text).toBe('before');
    expect(htmlText('<p>before<script>while(1)').text).toBe('before');
    expect(htmlText('text <a href="x"').text).toBe('text');
    expect(htmlText('<title>no end').title).toBe('no end');
    expect(htmlText('a < b and c > d').text).toBe('a < b and c > d');
  });

  it('caps the title and the text', () => {
    const page = htmlText(`<title>${'t'.repeat(50_000)}</title>${'word '.repeat(100_000)}`);
    expect(page.title.length).toBe(MAX_TITLE_CHARS);
    expect(page.text.length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
  });
});

describe('encodings', () => {
  const bytes = (...b: number[]): Buffer => Buffer.from(b);

  it('uses the Content-Type charset, then <meta charset>, then UTF-8', () => {
    expect(decodeBody(bytes(0x80, 0x41), 'text/html; charset=windows-1252')).toBe('€A');
    expect(decodeBody(bytes(0xe9), 'text/html; charset="ISO-8859-1"')).toBe('é');
    const meta = Buffer.concat([Buffer.from('<meta charset="windows-1252"><p>'), bytes(0x80)]);
    expect(decodeBody(meta, 'text/html')).toContain('€');
    expect(decodeBody(Buffer.from('héllo'), undefined)).toBe('héllo');
  });

  it('falls back to UTF-8 with U+FFFD on unknown labels and invalid bytes', () => {
    expect(charsetOf(Buffer.from('x'), 'text/html; charset=x-no-such-charset')).toBe('utf-8');
    expect(decodeBody(bytes(0x41, 0xff, 0xfe, 0x42), 'text/html; charset=bogus')).toBe(
      `A${FFFD}${FFFD}B`,
    );
    expect(charsetOf(Buffer.from('<meta charset="utf-16">'), undefined)).toBe('utf-8');
  });

  it('honours a byte order mark over any declaration', () => {
    const le = Buffer.concat([bytes(0xff, 0xfe), Buffer.from('hi', 'utf16le')]);
    expect(decodeBody(le, 'text/html; charset=iso-8859-1')).toBe('hi');
  });
});

/** mulberry32: a small seeded generator, so a failing input can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  '&#9999999;',
  '&#0;',
  '&#xD800;',
  '&#x110000;',
  '&#99999999999999999999;',
  '&#x;',
  '&#',
  '&amp',
  '&',
  '<',
  '>',
  '</',
  '<!--',
  '-->',
  '<!',
  '<?xml ',
  '<title>',
  '</title>',
  '<script>',
  '</script>',
  '<style>',
  '<p>',
  '<br/>',
  '<div class="x">',
  '<a href="',
  '"',
  "'",
  '\u0000',
  '\ud800',
  '\udfff',
  '\u00a0',
  '\u2028',
  '\n',
  ' ',
  '502 Bad Gateway',
  'Traceback (most recent call last)',
  'Error: boom\n    at f (/x.js:1:2)',
  'connection refused postgres',
  'é',
  '😀',
];
const LABELS = [
  undefined,
  'text/html',
  'text/html; charset=utf-8',
  'text/html; charset=windows-1252',
  'text/html; charset=shift_jis',
  'text/html; charset=utf-16',
  'text/html; charset=utf-16be',
  'text/html; charset=gb18030',
  'text/html; charset=x-user-defined',
  'text/html; charset=replacement',
  'text/html; charset=nonsense-label',
  'text/html; charset=',
  'text/html; charset="',
];

function hostileInput(next: () => number): { bytes: Buffer; type: string | undefined } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const type = pick(LABELS);
  if (next() < 0.25) {
    const raw = Buffer.alloc(Math.floor(next() * 4096));
    for (let i = 0; i < raw.length; i += 1) raw[i] = Math.floor(next() * 256);
    return { bytes: raw, type };
  }
  const parts: string[] = [];
  const n = Math.floor(next() * 200);
  for (let i = 0; i < n; i += 1) {
    const f = pick(FRAGMENTS);
    parts.push(next() < 0.05 ? f.repeat(1 + Math.floor(next() * 2000)) : f);
  }
  return { bytes: Buffer.from(parts.join(''), next() < 0.5 ? 'utf8' : 'latin1'), type };
}

describe('hostile input (seeded fuzz)', () => {
  it('never throws and always returns bounded text, for 3000 random and hostile pages', () => {
    const next = rng(0x5eed);
    for (let i = 0; i < 3000; i += 1) {
      const { bytes, type } = hostileInput(next);
      const text = decodeBody(bytes, type);
      const page = htmlText(text);
      expect(page.title.length).toBeLessThanOrEqual(MAX_TITLE_CHARS);
      expect(page.text.length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
      expect(Array.isArray(findSignatures(page.title, page.text))).toBe(true);
    }
  });

  it('does linear work on inputs built to make patterns backtrack', () => {
    const big = 300_000;
    const inputs = [
      '<title>'.repeat(big / 7),
      '<script>'.repeat(big / 8),
      '&#'.padEnd(big, '9'),
      `&${'a'.repeat(big)}`,
      '<a'.repeat(big / 2),
      '<!--'.repeat(big / 4),
      '\u00a0'.repeat(big),
      ' \n'.repeat(big / 2),
      '</script'.repeat(big / 8),
      `<p>${'x'.repeat(big)}`,
      'Error: x\n at '.repeat(big / 14),
      'connection refused '.repeat(big / 19),
      'Fatal error: '.repeat(big / 13),
    ];
    for (const input of inputs) {
      const page = htmlText(input);
      expect(page.text.length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
      findSignatures(page.title, page.text);
      findSignatures(input.slice(0, 2000), input);
    }
  }, 10_000);
});

describe('an HTTP check of a page with hostile references', () => {
  let server: Server;
  let http: ProbeHttp;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=no-such-charset' });
      res.end(
        '<html><head><title>Welcome &#9999999;</title></head><body><p>hello &#9999999; &#xD800; &#0; world</p></body></html>',
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    http = new ProbeHttp(createSsrfGuard({ allowHosts: DEFAULT_ALLOW_HOSTS }));
  });
  afterAll(async () => {
    http?.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('passes on its own merits (regression: &#9999999; made the check a PROBE_ERROR)', async () => {
    const check: HttpCheck = {
      kind: 'http',
      name: 'page',
      critical: true,
      timeoutMs: 5000,
      retries: 0,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      method: 'GET',
      headers: {},
      expectStatus: ['200'],
      keyword: 'hello',
      certMinDays: 14,
      followRedirects: false,
      insecureTls: false,
    };
    const attempt = await runHttpCheck(http, check, AbortSignal.timeout(5000));
    expect(attempt.status).toBe('pass');
    expect(attempt.evidence.reasons).toEqual([]);
    expect(attempt.evidence.title).toBe(`Welcome ${FFFD}`);
    expect(attempt.evidence.textExcerpt).toBe(`hello ${FFFD} ${FFFD} ${FFFD} world`);
  });
});
