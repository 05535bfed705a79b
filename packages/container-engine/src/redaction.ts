import { createHash } from 'node:crypto';

/**
 * Secrets out of inspect data (the engine's document and anything parsed from it), so what an
 * agent or a log reads is still a diagnosis but never a credential. Pure: no I/O, no state
 * kept between calls; plain secret values live only for the one call. See redaction.md.
 */

export const REDACTED = '[redacted]';

export interface RedactionOptions {
  /**
   * SHA-256 digests (lowercase hex) of secret values to find anywhere in the document, such
   * as the stack's own `.env` secrets. The plain values are never needed.
   */
  digests?: ReadonlySet<string>;
}

/** A value a rule redacted is also hunted for everywhere else, if at least this long. */
const MIN_KNOWN_LENGTH = 6;
/** Candidate tokens shorter than this are not hashed against the digests. */
const MIN_DIGEST_LENGTH = 8;

// ---------------------------------------------------------------------------------------------
// Names

/** Found anywhere in the name (segments joined): `DB_ROOTPASSWORD`, `api_key`, `x-auth-token`. */
const STRONG_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'accesskey',
  'privatekey',
  'credential',
  'connectionstring',
  'connstr',
];
/** Whole segments only: `DB_PASS`, `SECRET_KEY`, `BASIC_AUTH`, `SENTRY_DSN`. */
const WEAK_SEGMENTS = new Set([
  'pass',
  'pwd',
  'key',
  'auth',
  'authorization',
  'private',
  'dsn',
  'creds',
  'cookie',
  'salt',
]);
/**
 * A last segment that names something about the secret, not the secret: `PASSWORD_FILE`,
 * `AUTH_URL` (a URL's own password is caught by the userinfo rule), `TOKEN_TTL`, `AUTH_METHOD`.
 */
const NOT_SECRET_SUFFIXES = new Set([
  'file',
  'files',
  'path',
  'dir',
  'url',
  'uri',
  'host',
  'hostname',
  'port',
  'user',
  'username',
  'endpoint',
  'addr',
  'address',
  'method',
  'type',
  'mode',
  'enabled',
  'enable',
  'disabled',
  'ttl',
  'length',
  'id',
  'name',
  'header',
  'expiry',
  'issuer',
  'algorithm',
  'policy',
  'scope',
  'scopes',
  'level',
  'realm',
  'provider',
  'backend',
  'prefix',
]);

/** Whether an env var, label, annotation, option key or flag names a secret. */
export function isSecretName(name: string): boolean {
  const segments = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((s) => s !== '');
  const last = segments.at(-1);
  if (last === undefined) return false;
  if (segments.length > 1 && NOT_SECRET_SUFFIXES.has(last)) return false;
  const joined = segments.join('');
  return STRONG_WORDS.some((w) => joined.includes(w)) || segments.some((s) => WEAK_SEGMENTS.has(s));
}

/** Engine fields whose names look secret-ish but hold none. */
const ENGINE_FIELDS = new Set(['SandboxKey']);

// ---------------------------------------------------------------------------------------------
// Programs whose short flags carry a secret (only where the flag is unambiguous)

interface ShortFlag {
  flag: string;
  /** `-pSECRET` */
  attached: boolean;
  /** `-a SECRET` */
  separate: boolean;
  /** `user:password`: only the part after the first colon is secret. */
  userPass?: boolean;
}

const MYSQL: ShortFlag[] = [{ flag: '-p', attached: true, separate: false }];
const CURL: ShortFlag[] = [
  { flag: '-u', attached: true, separate: true, userPass: true },
  { flag: '--user', attached: false, separate: true, userPass: true },
  { flag: '--proxy-user', attached: false, separate: true, userPass: true },
  { flag: '-U', attached: true, separate: true, userPass: true },
];
const PROGRAM_FLAGS: Record<string, ShortFlag[]> = {
  mysql: MYSQL,
  mysqldump: MYSQL,
  mysqladmin: MYSQL,
  mysqlcheck: MYSQL,
  mariadb: MYSQL,
  'mariadb-dump': MYSQL,
  'mariadb-admin': MYSQL,
  'redis-cli': [{ flag: '-a', attached: false, separate: true }],
  'valkey-cli': [{ flag: '-a', attached: false, separate: true }],
  sshpass: [{ flag: '-p', attached: true, separate: true }],
  mongo: [{ flag: '-p', attached: false, separate: true }],
  mongosh: [{ flag: '-p', attached: false, separate: true }],
  mongodump: [{ flag: '-p', attached: false, separate: true }],
  curl: CURL,
  wget: CURL.slice(1),
};
const SEPARATORS = new Set([';', '&&', '||', '|', '&']);

// ---------------------------------------------------------------------------------------------
// One string, by name

type Found = Set<string>;

const unquote = (s: string): string => {
  const q = s[0];
  return (q === '"' || q === "'") && s.length >= 2 && s.endsWith(q) ? s.slice(1, -1) : s;
};
const quoteOf = (s: string): string => (s[0] === '"' || s[0] === "'" ? s[0] : '');

function remember(found: Found, value: string): void {
  const v = unquote(value).trim();
  if (v.length >= MIN_KNOWN_LENGTH && v !== REDACTED) found.add(v);
}

/** The value as redacted, its quotes kept so the command line still reads as one. */
function redactWord(word: string, found: Found): string {
  if (unquote(word) === REDACTED || word === '') return word;
  remember(found, word);
  const q = quoteOf(word);
  return `${q}${REDACTED}${q && word.length >= 2 && word.endsWith(q) ? q : ''}`;
}

const PRIVATE_KEY_BLOCK =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/** scheme://user:password@ — only the password goes. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#"']*):([^\s@/?#"']+)@/gi;
/**
 * NAME=value, --name=value, "name": "value", Name: value, Authorization: Bearer value, inside
 * any text; the name decides.
 */
const ASSIGNMENT =
  /(?<![\w.-])(--?)?(["']?)([A-Za-z_][\w.-]*)\2(=|:[ \t]*)(?!\/\/)((?:(?:bearer|basic|token|digest|negotiate)[ \t]+)?)(\[redacted\]|"[^"]*"|'[^']*'|[^\s"',;&|)}\]]+)/gi;
/** A whole string that is one assignment: an Env entry, a `--label k=v` or `-e K=V` argument. */
const WHOLE_ASSIGNMENT = /^([A-Za-z_][\w.-]*)=([\s\S]+)$/;
/** Shell words, quotes kept. */
const WORD = /(?:[^\s"'\\]+|\\.|"(?:[^"\\]|\\.)*"?|'[^']*'?)+/g;

/** Flag rules over a list of words (argv elements, or the shell words of one string). */
function redactWords(words: string[], found: Found): string[] {
  const out = [...words];
  let program: ShortFlag[] | undefined;
  for (let i = 0; i < out.length; i++) {
    const word = unquote(out[i] ?? '');
    if (SEPARATORS.has(word)) {
      program = undefined;
      continue;
    }
    const base = word.split('/').pop() ?? '';
    if (PROGRAM_FLAGS[base] !== undefined) {
      program = PROGRAM_FLAGS[base];
      continue;
    }
    const next = out[i + 1];
    const nextTakes = next !== undefined && !unquote(next).startsWith('-');
    const short = program?.find((f) => word === f.flag || (f.attached && word.startsWith(f.flag)));
    if (short !== undefined) {
      if (word === short.flag && short.separate && nextTakes) {
        out[i + 1] = short.userPass ? redactUserPass(next, found) : redactWord(next, found);
        i++;
      } else if (word !== short.flag && short.attached) {
        const value = (out[i] ?? '').slice(short.flag.length);
        out[i] =
          short.flag + (short.userPass ? redactUserPass(value, found) : redactWord(value, found));
      }
      continue;
    }
    if (
      /^--?[A-Za-z][\w.-]*$/.test(word) &&
      !word.startsWith('--no-') &&
      word.length > 2 &&
      isSecretName(word) &&
      nextTakes
    ) {
      out[i + 1] = redactWord(next, found);
      i++;
    }
  }
  return out;
}

function redactUserPass(value: string, found: Found): string {
  const q = quoteOf(value);
  const inner = unquote(value);
  const colon = inner.indexOf(':');
  if (colon < 0) return value;
  const pass = inner.slice(colon + 1);
  if (pass === '' || pass === REDACTED) return value;
  remember(found, pass);
  return `${q}${inner.slice(0, colon + 1)}${REDACTED}${q}`;
}

/**
 * Every by-name rule on one string. `assignment`: the string is one `NAME=value` as a whole
 * (an Env entry, the argument of `-e` or `--label`), so all after `=` is the value.
 */
function redactText(text: string, found: Found, assignment = false): string {
  const whole = assignment ? WHOLE_ASSIGNMENT.exec(text) : null;
  if (whole !== null && isSecretName(whole[1] ?? '')) {
    if (whole[2] !== REDACTED) remember(found, whole[2] ?? '');
    return `${whole[1]}=${REDACTED}`;
  }
  let out = text.replace(PRIVATE_KEY_BLOCK, (block) => {
    remember(found, block);
    return REDACTED;
  });
  out = out.replace(URL_USERINFO, (match, scheme: string, user: string, pass: string) => {
    if (pass === REDACTED) return match;
    remember(found, decodeSafely(pass));
    remember(found, pass);
    return `${scheme}${user}:${REDACTED}@`;
  });
  out = out.replace(
    ASSIGNMENT,
    (
      match,
      dash: string | undefined,
      q: string,
      name: string,
      sep: string,
      scheme: string,
      value: string,
    ) =>
      isSecretName(name) && value !== REDACTED
        ? `${dash ?? ''}${q}${name}${q}${sep}${scheme}${redactWord(value, found)}`
        : match,
  );
  // flags and their values inside a shell string
  const spans = [...out.matchAll(WORD)];
  if (spans.length > 1) {
    const words = spans.map((m) => m[0]);
    const redacted = redactWords(words, found);
    for (let i = spans.length - 1; i >= 0; i--) {
      const span = spans[i];
      if (span === undefined || redacted[i] === words[i]) continue;
      out = out.slice(0, span.index) + (redacted[i] ?? '') + out.slice(span.index + span[0].length);
    }
  }
  return out;
}

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not percent-encoded after all: the raw form is remembered too
  }
}

// ---------------------------------------------------------------------------------------------
// The document

/** Lists whose entries are `NAME=value` as a whole. */
const ASSIGNMENT_LISTS = new Set(['Env', 'env']);
/** Flags (of docker/podman run and create) whose argument is `NAME=value` as a whole. */
const ASSIGNMENT_FLAGS = new Set([
  '-e',
  '--env',
  '-l',
  '--label',
  '--annotation',
  '--build-arg',
  '--secret-env',
]);

/** Pass 1: every by-name rule, everywhere; what they redact is remembered in `found`. */
function byName(value: unknown, found: Found, key?: string): unknown {
  if (typeof value === 'string') return redactText(value, found);
  if (Array.isArray(value)) {
    const list = key !== undefined && ASSIGNMENT_LISTS.has(key);
    const items = value.map((v, i) => {
      if (typeof v !== 'string') return byName(v, found);
      const previous: unknown = value[i - 1];
      return redactText(
        v,
        found,
        list || (typeof previous === 'string' && ASSIGNMENT_FLAGS.has(previous)),
      );
    });
    return items.every((v) => typeof v === 'string') ? redactWords(items, found) : items;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && v !== '' && !ENGINE_FIELDS.has(k) && isSecretName(k)) {
        out[k] = redactWord(v, found);
      } else {
        out[k] = byName(v, found, k);
      }
    }
    return out;
  }
  return value;
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Candidate tokens of a string that might be a whole secret. */
function candidates(text: string): Set<string> {
  const out = new Set<string>([text, text.trim()]);
  for (const t of text.split(/[\s=:@/"'`,;&?]+/)) out.add(t);
  for (const coarse of text.split(/[\s"'`]+/)) {
    out.add(coarse);
    for (const sep of ['=', ':']) {
      const at = coarse.indexOf(sep);
      if (at >= 0) out.add(coarse.slice(at + 1));
    }
  }
  return out;
}

/** Pass 2: the values pass 1 found, and anything whose digest is listed, wherever they occur. */
function byValue(text: string, known: readonly string[], digests: ReadonlySet<string> | undefined) {
  let out = text;
  for (const v of known) if (out.includes(v)) out = out.split(v).join(REDACTED);
  if (digests === undefined || digests.size === 0) return out;
  const hits = [...candidates(out)].filter(
    (c) => c.length >= MIN_DIGEST_LENGTH && c !== REDACTED && digests.has(sha256(c)),
  );
  for (const hit of hits.sort((a, b) => b.length - a.length)) out = out.split(hit).join(REDACTED);
  return out;
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[f(key)] = mapStrings(v, f);
    return out;
  }
  return value;
}

/**
 * `value` (an inspect document, ContainerDetails, or a tool's result built from them) with
 * secrets replaced by `[redacted]`: by name (env, labels, flags, assignments in shell strings,
 * URL passwords, Authorization headers, private keys), then by value (what the names revealed,
 * and whatever matches a digest in `options.digests`) in every string of the document.
 */
export function redactSecrets<T>(value: T, options: RedactionOptions = {}): T {
  const found: Found = new Set();
  const named = byName(value, found);
  const known = [...found].sort((a, b) => b.length - a.length);
  found.clear();
  return mapStrings(named, (s) => byValue(s, known, options.digests)) as T;
}
