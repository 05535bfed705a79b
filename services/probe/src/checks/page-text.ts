/**
 * A probed page as text, without a browser: bytes to a string in the page's own encoding,
 * HTML to its title and rough visible text. The page is untrusted input, so both steps are
 * total (they return for every input, never throw) and bounded: input and output are capped,
 * the scanner is one pass with `indexOf` and patterns that cannot backtrack far, so the work
 * is linear in the (capped) input whatever it contains.
 */

/** Characters of HTML looked at; the rest is ignored. */
export const MAX_HTML_CHARS = 300_000;
/** Characters of visible text returned. */
export const MAX_TEXT_CHARS = 64_000;
/** Characters of title returned. */
export const MAX_TITLE_CHARS = 1_000;
/** Bytes searched for a `<meta charset>` (the HTML standard's prescan length). */
const META_PRESCAN_BYTES = 1024;

export interface PageText {
  title: string;
  text: string;
}

// ---- bytes to string ---------------------------------------------------------------------------

const CHARSET_IN_TYPE = /charset\s*=\s*["']?([\w.:-]{1,40})/i;
const CHARSET_IN_META = /<meta\b[^>]{0,512}?charset\s*=\s*["']?\s*([\w.:-]{1,40})/i;

/** The canonical name of an encoding label, or undefined when TextDecoder does not know it. */
function encodingOf(label: string): string | undefined {
  try {
    return new TextDecoder(label).encoding;
  } catch (err) {
    if (err instanceof RangeError) return undefined; // an unknown label: the caller falls back
    throw err;
  }
}

/**
 * The encoding of a body: its BOM, else the Content-Type's charset, else a `<meta charset>`
 * in the first 1024 bytes (one claiming UTF-16 in ASCII bytes is not, HTML says: UTF-8),
 * else UTF-8. Labels TextDecoder does not know are skipped.
 */
export function charsetOf(body: Uint8Array, contentType: string | undefined): string {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'utf-8';
  if (body[0] === 0xff && body[1] === 0xfe) return 'utf-16le';
  if (body[0] === 0xfe && body[1] === 0xff) return 'utf-16be';
  const declared = CHARSET_IN_TYPE.exec(contentType ?? '')?.[1];
  const fromType = declared === undefined ? undefined : encodingOf(declared);
  if (fromType !== undefined) return fromType;
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, META_PRESCAN_BYTES));
  const meta = CHARSET_IN_META.exec(head.toString('latin1'))?.[1];
  const fromMeta = meta === undefined ? undefined : encodingOf(meta);
  if (fromMeta !== undefined) return fromMeta.startsWith('utf-16') ? 'utf-8' : fromMeta;
  return 'utf-8';
}

/**
 * A body as text in its declared encoding; unknown labels fall back to UTF-8, and bytes that
 * do not decode become U+FFFD (TextDecoder without `fatal` replaces rather than throws).
 */
export function decodeBody(body: Uint8Array, contentType?: string): string {
  const charset = charsetOf(body, contentType);
  const text = new TextDecoder(charset).decode(body);
  // Node 20 decodes windows-1252 (also what `latin1` and `iso-8859-1` mean) as ISO-8859-1,
  // leaving 0x80–0x9F as C1 controls; windows-1252 gives them characters (0x80 is €).
  return charset === 'windows-1252' ? text.replace(/[\u0080-\u009f]/g, windows1252) : text;
}

const windows1252 = (c: string): string => {
  const code = C1[c.charCodeAt(0)];
  return code === undefined ? c : String.fromCharCode(code);
};

// ---- character references ----------------------------------------------------------------------

const NAMED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  middot: '·',
  bull: '•',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  times: '×',
  divide: '÷',
  shy: '\u00ad',
};

/** The HTML standard's replacements for references to C1 controls (windows-1252's meaning). */
const C1: Readonly<Record<number, number>> = {
  0x80: 0x20ac,
  0x82: 0x201a,
  0x83: 0x0192,
  0x84: 0x201e,
  0x85: 0x2026,
  0x86: 0x2020,
  0x87: 0x2021,
  0x88: 0x02c6,
  0x89: 0x2030,
  0x8a: 0x0160,
  0x8b: 0x2039,
  0x8c: 0x0152,
  0x8e: 0x017d,
  0x91: 0x2018,
  0x92: 0x2019,
  0x93: 0x201c,
  0x94: 0x201d,
  0x95: 0x2022,
  0x96: 0x2013,
  0x97: 0x2014,
  0x98: 0x02dc,
  0x99: 0x2122,
  0x9a: 0x0161,
  0x9b: 0x203a,
  0x9c: 0x0153,
  0x9e: 0x017e,
  0x9f: 0x0178,
};

const REPLACEMENT = '\ufffd';

/** A numeric reference's character: zero, surrogates and anything past U+10FFFF become U+FFFD. */
export function codePointText(digits: string, radix: 10 | 16): string {
  // More than 8 significant digits is past U+10FFFF in either radix; no need to parse it.
  const significant = digits.replace(/^0+/, '');
  if (significant.length > 8) return REPLACEMENT;
  const code = significant === '' ? 0 : parseInt(significant, radix);
  if (!Number.isSafeInteger(code) || code === 0 || code > 0x10ffff) return REPLACEMENT;
  if (code >= 0xd800 && code <= 0xdfff) return REPLACEMENT;
  return String.fromCodePoint(C1[code] ?? code);
}

// Each alternative is a single run of one class, so a failed match costs at most that run.
const REFERENCE = /&(?:#(\d+)|#[xX]([\da-fA-F]+)|([a-zA-Z][a-zA-Z\d]{0,31}));/g;

/** Decodes character references; unknown names stay as written. Never throws. */
export function decodeReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    REFERENCE,
    (whole, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
      if (dec !== undefined) return codePointText(dec, 10);
      if (hex !== undefined) return codePointText(hex, 16);
      return NAMED[(name ?? '').toLowerCase()] ?? whole;
    },
  );
}

// ---- HTML to text -------------------------------------------------------------------------------

/** Elements whose content is not visible text (title is kept apart). */
const RAW_TEXT = new Set(['script', 'style', 'noscript', 'template', 'title', 'textarea', 'svg']);
/** Elements that break a line. */
const BLOCK = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'br',
  'dd',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'td',
  'th',
  'tr',
  'ul',
]);
const TAG_NAME = /<(\/?)([a-zA-Z][a-zA-Z\d:-]{0,63})/y;
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g;

/** Runs of whitespace to one space, or one newline when the run held a line break. */
function collapse(text: string, max: number): string {
  const flat = text
    .replace(CONTROL, ' ')
    .replace(/\s+/g, (run) => (run.includes('\n') ? '\n' : ' '))
    .trim();
  return flat.length <= max ? flat : flat.slice(0, max);
}

/** Where the element `name` that opened before `from` closes: the index of `</name`, or -1. */
function closingTag(html: string, name: string, from: number): number {
  const re = new RegExp(`</${name}(?![a-zA-Z\\d:-])`, 'gi');
  re.lastIndex = from;
  return re.exec(html)?.index ?? -1;
}

/**
 * Title and rough visible text of an HTML document, for signature matching without a browser.
 * Total and linear: every input gives an answer, at most MAX_TITLE_CHARS / MAX_TEXT_CHARS long.
 */
export function htmlText(input: string): PageText {
  const html = input.length > MAX_HTML_CHARS ? input.slice(0, MAX_HTML_CHARS) : input;
  const parts: string[] = [];
  let size = 0;
  let title: string | undefined;
  let i = 0;
  const push = (s: string): void => {
    parts.push(s);
    size += s.length;
  };
  // Stop collecting once well past the output cap (references may shrink the text, so 2×).
  while (i < html.length && size < MAX_TEXT_CHARS * 2) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      push(html.slice(i));
      break;
    }
    if (lt > i) push(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end === -1 ? html.length : end + 3;
      push(' ');
      continue;
    }
    TAG_NAME.lastIndex = lt;
    const tag = TAG_NAME.exec(html);
    if (tag === null) {
      // `<!doctype`, `<?xml`, or a bare `<` in text ("a < b"): declarations are skipped.
      const c = html[lt + 1];
      if (c === '!' || c === '?') {
        const end = html.indexOf('>', lt);
        i = end === -1 ? html.length : end + 1;
      } else {
        push('<');
        i = lt + 1;
      }
      continue;
    }
    const end = html.indexOf('>', lt);
    if (end === -1) break; // an unterminated tag: the rest is inside it
    const closing = tag[1] === '/';
    const name = (tag[2] ?? '').toLowerCase();
    i = end + 1;
    if (!closing && RAW_TEXT.has(name) && html[end - 1] !== '/') {
      const close = closingTag(html, name, i);
      const content = html.slice(i, close === -1 ? html.length : close);
      if (name === 'title' && title === undefined) title = content.slice(0, MAX_TITLE_CHARS * 4);
      if (close === -1) break;
      const closeEnd = html.indexOf('>', close);
      i = closeEnd === -1 ? html.length : closeEnd + 1;
      push(' ');
      continue;
    }
    push(BLOCK.has(name) ? '\n' : ' ');
  }
  return {
    title: collapse(decodeReferences(title ?? ''), MAX_TITLE_CHARS).replace(/\n/g, ' '),
    text: collapse(decodeReferences(parts.join('')), MAX_TEXT_CHARS),
  };
}
