/**
 * The request target, normalised before any route is matched. Anything a Go router might read
 * differently from us is refused rather than interpreted: percent-encoding in the path, `.` and
 * `..` segments, empty segments (double or trailing slashes), characters outside the ones
 * container names and ids use, a fragment, `;` in the query, a key given twice.
 */

export interface RequestTarget {
  /** `/v1.41` when the client named an API version, else ''. */
  versionPrefix: string;
  /** The path without the version prefix, e.g. `/containers/web/json`. */
  path: string;
  /** The decoded query, one entry per key. */
  query: ReadonlyMap<string, string>;
  /** The query as received, without its `?`; forwarded unchanged once its keys are checked. */
  rawQuery: string;
}

export type TargetResult = { ok: true; target: RequestTarget } | { ok: false; reason: string };

/** API versions below this accepted a HostConfig body on start (and other legacy shapes). */
export const MIN_API_VERSION: readonly [number, number] = [1, 24];
export const MAX_TARGET_LENGTH = 8192;

const PATH_CHARS = /^[A-Za-z0-9._/-]+$/;
const VERSION_SEGMENT = /^v(\d{1,2})\.(\d{1,3})$/;
const QUERY_KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const refuse = (reason: string): TargetResult => ({ ok: false, reason });

function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined; // malformed escape: the caller refuses the request
  }
}

/** Parses `?a=1&b=2` the way Go's url.ParseQuery would, refusing where the two could differ. */
function parseQuery(raw: string): Map<string, string> | string {
  const query = new Map<string, string>();
  if (raw.includes(';')) return '";" in the query (older engines split on it)';
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    const value = decodeComponent(eq < 0 ? '' : part.slice(eq + 1));
    if (key === undefined || value === undefined) return 'malformed percent-encoding in the query';
    if (!QUERY_KEY.test(key)) return `query key ${JSON.stringify(key.slice(0, 64))} is malformed`;
    if (query.has(key)) return `query key "${key}" given twice`;
    query.set(key, value);
  }
  return query;
}

/** Normalises a request target (`req.url`); refusals name what was wrong. */
export function parseTarget(url: string): TargetResult {
  if (url.length > MAX_TARGET_LENGTH) return refuse('request target too long');
  if (!url.startsWith('/')) return refuse('request target is not an absolute path');
  if (url.includes('#')) return refuse('fragment in the request target');
  const mark = url.indexOf('?');
  const rawPath = mark < 0 ? url : url.slice(0, mark);
  const rawQuery = mark < 0 ? '' : url.slice(mark + 1);
  if (rawPath.includes('%')) return refuse('percent-encoding in the path');
  if (!PATH_CHARS.test(rawPath)) return refuse('unexpected characters in the path');
  const segments = rawPath.slice(1).split('/');
  for (const segment of segments) {
    if (segment === '') return refuse('empty path segment (double or trailing slash)');
    if (segment === '.' || segment === '..') return refuse('dot segment in the path');
  }
  let versionPrefix = '';
  const version = VERSION_SEGMENT.exec(segments[0] ?? '');
  if (version !== null) {
    const [major, minor] = [Number(version[1]), Number(version[2])];
    const [minMajor, minMinor] = MIN_API_VERSION;
    if (major !== minMajor || minor < minMinor) {
      return refuse(`API version ${major}.${minor} (below ${minMajor}.${minMinor} or unknown)`);
    }
    versionPrefix = `/${segments.shift() ?? ''}`;
    if (segments.length === 0) return refuse('nothing after the API version');
  }
  const query = parseQuery(rawQuery);
  if (typeof query === 'string') return refuse(query);
  return { ok: true, target: { versionPrefix, path: `/${segments.join('/')}`, query, rawQuery } };
}
