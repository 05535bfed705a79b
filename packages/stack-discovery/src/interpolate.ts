/**
 * Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty),
 * `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (required),
 * `${VAR:+alternative}` / `${VAR+alternative}`, `$$` for a literal `$`. Defaults may nest
 * (`${A:-${B:-x}}`).
 */

export type Env = Readonly<Record<string, string | undefined>>;

export class InterpolationError extends Error {
  override name = 'InterpolationError';
}

export interface InterpolateOptions {
  env: Env;
  /** Called for a variable that is unset and has no default; it becomes "". */
  onMissing?: (name: string) => void;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** The index of the `}` closing a `${` whose body starts at `start`, or -1. */
function closingBrace(text: string, start: number): number {
  let depth = 1;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (ch === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function braced(body: string, options: InterpolateOptions): string {
  const name = NAME.exec(body)?.[0];
  if (name === undefined) throw new InterpolationError(`invalid variable "\${${body}}"`);
  const value = options.env[name];
  const rest = body.slice(name.length);
  if (rest === '') {
    if (value === undefined) options.onMissing?.(name);
    return value ?? '';
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (op === undefined) throw new InterpolationError(`invalid variable "\${${body}}"`);
  const arg = (): string => interpolate(rest.slice(op.length), options);
  const unset = value === undefined;
  const empty = unset || value === '';
  switch (op) {
    case ':-':
      return empty ? arg() : value;
    case '-':
      return unset ? arg() : value;
    case ':?':
    case '?':
      if (op === ':?' ? empty : unset) {
        const message = arg();
        throw new InterpolationError(
          `required variable ${name} is ${unset ? 'not set' : 'empty'}${message === '' ? '' : `: ${message}`}`,
        );
      }
      return value ?? '';
    case ':+':
      return empty ? '' : arg();
    default:
      return unset ? '' : arg();
  }
}

/** Interpolates one string; throws InterpolationError on a malformed or missing required variable. */
export function interpolate(text: string, options: InterpolateOptions): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('$', i);
    if (at === -1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, at);
    const next = text[at + 1];
    if (next === '$') {
      out += '$';
      i = at + 2;
    } else if (next === '{') {
      const end = closingBrace(text, at + 2);
      if (end === -1) throw new InterpolationError(`unclosed "\${" in "${text}"`);
      out += braced(text.slice(at + 2, end), options);
      i = end + 1;
    } else {
      const name = NAME.exec(text.slice(at + 1))?.[0];
      if (name === undefined) {
        throw new InterpolationError(`a lone "$" in "${text}"; write "$$" for a literal $`);
      }
      const value = options.env[name];
      if (value === undefined) options.onMissing?.(name);
      out += value ?? '';
      i = at + 1 + name.length;
    }
  }
  return out;
}

export interface TreeCallbacks {
  /** A variable that is unset and has no default, and the path of the value naming it. */
  onMissing: (name: string, path: string) => void;
  /** A malformed value or a missing required variable. */
  onError: (path: string, message: string) => void;
}

/**
 * Interpolates every string value (not key) of a parsed YAML document. Errors are collected
 * with their path rather than thrown, so one run reports every bad value.
 */
export function interpolateTree(
  value: unknown,
  env: Env,
  callbacks: TreeCallbacks,
  path = '',
): unknown {
  if (typeof value === 'string') {
    try {
      return interpolate(value, { env, onMissing: (name) => callbacks.onMissing(name, path) });
    } catch (err) {
      if (err instanceof InterpolationError) {
        callbacks.onError(path, err.message);
        return value;
      }
      throw err;
    }
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => interpolateTree(v, env, callbacks, `${path}[${i}]`));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        interpolateTree(v, env, callbacks, path === '' ? k : `${path}.${k}`),
      ]),
    );
  }
  return value;
}

/** A `.env` file: `KEY=value` lines, `#` comments, optional `export`, optional quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (match?.[1] === undefined) continue;
    let value = match[2] ?? '';
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    out[match[1]] = value;
  }
  return out;
}
