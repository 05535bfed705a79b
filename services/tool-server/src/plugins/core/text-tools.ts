import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, toolsFor } from '@datamancy/plugin-sdk';
import type { CorePluginConfig } from './config.ts';

const tool = toolsFor<CorePluginConfig>();
const MAX_TEXT = 1024 * 1024;

export const normalizeWhitespace = tool({
  name: 'normalize_whitespace',
  description: 'Collapse runs of whitespace into single spaces and trim the ends.',
  input: z.object({ text: z.string().max(MAX_TEXT) }),
  handler: (_ctx, args) => ({ text: args.text.replace(/\s+/gu, ' ').trim() }),
});

export const uuidGenerate = tool({
  name: 'uuid_generate',
  description: 'Generate random (v4) UUIDs.',
  input: z.object({ count: z.number().int().min(1).max(100).default(1) }),
  handler: (_ctx, args) => ({ uuids: Array.from({ length: args.count }, () => randomUUID()) }),
});

export const nowUtcIso = tool({
  name: 'now_utc_iso',
  description: 'The current time in UTC as ISO 8601, with epoch milliseconds.',
  input: z.object({}),
  handler: () => {
    const now = new Date();
    return { now: now.toISOString(), epochMs: now.getTime() };
  },
});

export const hashSha256 = tool({
  name: 'hash_sha256',
  description: 'SHA-256 of a text (UTF-8) or of base64-encoded bytes, as hex.',
  input: z.object({
    text: z.string().max(MAX_TEXT),
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
  }),
  handler: (_ctx, args) => ({
    hex: createHash('sha256').update(Buffer.from(args.text, args.encoding)).digest('hex'),
  }),
});

/** Splits `a.b[0].c`, `a["x.y"]` or a JSON pointer `/a/b/0` into keys. */
export function parseJsonPath(path: string): (string | number)[] {
  if (path === '' || path === '$') return [];
  if (path.startsWith('/')) {
    return path
      .slice(1)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  const keys: (string | number)[] = [];
  const re = /\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/gy;
  let rest = path.startsWith('$') ? path.slice(1) : path;
  rest = rest.startsWith('.') ? rest.slice(1) : rest;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < rest.length && (m = re.exec(rest)) !== null) {
    if (m[1] !== undefined) keys.push(Number(m[1]));
    else if (m[2] !== undefined) keys.push(JSON.parse(`"${m[2]}"`) as string);
    else if (m[3] !== undefined) keys.push(m[3]);
  }
  if (re.lastIndex !== rest.length) {
    throw new AppError(
      'INVALID_ARGUMENTS',
      `cannot parse path "${path}" near position ${re.lastIndex}`,
      {
        data: { issues: [{ path: 'args.path', message: 'unparseable path' }] },
      },
    );
  }
  return keys;
}

export const jsonGetPath = tool({
  name: 'json_get_path',
  description:
    'Read a value out of JSON by path: dotted (`a.b[0].c`) or JSON pointer (`/a/b/0`). `json` may be a value or a JSON string.',
  input: z.object({
    json: z.unknown().describe('a JSON value, or a string holding JSON'),
    path: z.string().max(1024),
  }),
  handler: (_ctx, args) => {
    let doc: unknown = args.json;
    if (typeof doc === 'string') {
      try {
        doc = JSON.parse(doc);
      } catch {
        throw new AppError('INVALID_ARGUMENTS', 'args.json is a string but not valid JSON', {
          data: { issues: [{ path: 'args.json', message: 'not valid JSON' }] },
        });
      }
    }
    let node: unknown = doc;
    for (const key of parseJsonPath(args.path)) {
      if (node === null || typeof node !== 'object') return { found: false, value: null };
      const container = node as Record<string | number, unknown>;
      if (!Object.prototype.hasOwnProperty.call(container, key))
        return { found: false, value: null };
      node = container[key];
    }
    return { found: true, value: node ?? null };
  },
});
