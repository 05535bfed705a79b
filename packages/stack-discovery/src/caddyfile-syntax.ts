import { ConfigError, type ValidationIssue } from '@datamancy/core';
import type { Env } from './interpolate.ts';

/**
 * Caddyfile syntax: environment placeholders, tokens (quotes, backticks, heredocs, comments)
 * and the tree of directives and blocks. What the directives mean is `caddyfile.ts`'s business.
 */

export interface Directive {
  name: string;
  args: string[];
  line: number;
  block?: Directive[];
}

export interface CaddyfileTree {
  /** The global options block, if any. */
  global?: Directive[];
  snippets: Map<string, Directive[]>;
  sites: { addresses: string[]; line: number; block: Directive[] }[];
  /** Top-level `import` arguments, which discovery does not follow. */
  topImports: string[];
}

interface Token {
  text: string;
  line: number;
  /** Quoted tokens are never braces. */
  quoted: boolean;
}

/**
 * `{$VAR}`, `{$VAR:default}` (parse-time in Caddy) and `{env.VAR}` (run-time in Caddy, but
 * the same value in a stack) replaced from `env`; unset ones become "" and are reported.
 */
export function substituteCaddyEnv(
  text: string,
  env: Env,
  onMissing: (name: string) => void,
): string {
  return text.replace(
    /\{\$([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}|\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g,
    (_all, name: string | undefined, fallback: string | undefined, envName: string | undefined) => {
      const key = name ?? envName ?? '';
      const value = env[key];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      onMissing(key);
      return '';
    },
  );
}

function tokenize(text: string, fail: (line: number, message: string) => never): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (ch === '\n') {
      line++;
      i++;
    } else if (/\s/.test(ch)) i++;
    else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '"' || ch === '`') {
      const start = line;
      let value = '';
      i++;
      while (i < text.length && text[i] !== ch) {
        if (ch === '"' && text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
        if (text[i] === '\n') line++;
        value += text[i];
        i++;
      }
      if (i >= text.length) fail(start, `unterminated ${ch} quote`);
      i++;
      tokens.push({ text: value, line: start, quoted: true });
    } else {
      let value = '';
      while (i < text.length && !/\s/.test(text[i] ?? '')) value += text[i++];
      const heredoc = /^<<([A-Za-z0-9_]+)$/.exec(value);
      if (heredoc?.[1] !== undefined) {
        const start = line;
        const end = text.indexOf(`\n`, i);
        const close = new RegExp(`^\\s*${heredoc[1]}\\s*$`, 'm');
        const rest = end === -1 ? '' : text.slice(end + 1);
        const match = close.exec(rest);
        if (match === null || end === -1) fail(start, `heredoc ${heredoc[1]} is not closed`);
        const body = rest.slice(0, match.index);
        line += body.split('\n').length;
        i = end + 1 + match.index + match[0].length;
        tokens.push({ text: body, line: start, quoted: true });
      } else tokens.push({ text: value, line, quoted: false });
    }
  }
  return tokens;
}

const isOpen = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === '{';
const isClose = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === '}';

/** Groups tokens into directives: one per line, a trailing `{` opens its block, `}` closes it. */
function parseBlock(
  tokens: Token[],
  pos: { i: number },
  nested: boolean,
  fail: (line: number, message: string) => never,
): Directive[] {
  const out: Directive[] = [];
  while (pos.i < tokens.length) {
    const first = tokens[pos.i];
    if (first === undefined) break;
    if (isClose(first)) {
      if (!nested) fail(first.line, 'unexpected }');
      pos.i++;
      return out;
    }
    const words: Token[] = [];
    while (pos.i < tokens.length) {
      const t = tokens[pos.i];
      if (t === undefined || t.line !== first.line || isClose(t)) break;
      words.push(t);
      pos.i++;
    }
    // a site's address list may continue on the next line after a trailing comma
    while (
      !nested &&
      words[words.length - 1]?.text.endsWith(',') === true &&
      tokens[pos.i] !== undefined &&
      !isOpen(tokens[pos.i])
    ) {
      const line = tokens[pos.i]?.line;
      while (tokens[pos.i] !== undefined && tokens[pos.i]?.line === line && !isClose(tokens[pos.i]))
        words.push(tokens[pos.i++] as Token);
    }
    const last = words[words.length - 1];
    const opens = isOpen(last);
    const head = opens ? words.slice(0, -1) : words;
    const stray = head.find(isOpen);
    if (stray !== undefined) fail(stray.line, '{ must end its line');
    const directive: Directive = {
      name: head[0]?.text ?? '',
      args: head.slice(1).map((t) => t.text),
      line: first.line,
    };
    if (opens) directive.block = parseBlock(tokens, pos, true, fail);
    out.push(directive);
  }
  if (nested) fail(tokens[tokens.length - 1]?.line ?? 1, 'a { is never closed');
  return out;
}

/** Parses Caddyfile text (placeholders already substituted); throws ConfigError naming the line. */
export function parseCaddyfileTree(text: string, origin: string): CaddyfileTree {
  const fail = (line: number, message: string): never => {
    const issue: ValidationIssue = { path: `line ${line}`, message };
    throw new ConfigError([issue], origin);
  };
  const top = parseBlock(tokenize(text, fail), { i: 0 }, false, fail);
  const tree: CaddyfileTree = { snippets: new Map(), sites: [], topImports: [] };
  for (let n = 0; n < top.length; n++) {
    const d = top[n] as Directive;
    const words = d.name === '' ? d.args : [d.name, ...d.args];
    if (words.length === 0 && d.block !== undefined) {
      if (n !== 0) fail(d.line, 'the global options block must come first');
      tree.global = d.block;
    } else if (/^\(.+\)$/.test(d.name) && d.block !== undefined) {
      tree.snippets.set(d.name.slice(1, -1), d.block);
    } else if (d.block !== undefined) {
      tree.sites.push({ addresses: splitAddresses(words), line: d.line, block: d.block });
    } else if (d.name === 'import') {
      // a top-level import brings in whole site blocks from files: not followed
      tree.topImports.push(d.args.join(' '));
    } else if (tree.sites.length === 0) {
      // a single site without braces: its addresses, then its directives to the end
      tree.sites.push({ addresses: splitAddresses(words), line: d.line, block: top.slice(n + 1) });
      break;
    } else fail(d.line, `"${words.join(' ')}" is outside any site block`);
  }
  return tree;
}

function splitAddresses(words: string[]): string[] {
  return words
    .flatMap((w) => w.split(','))
    .map((a) => a.trim())
    .filter((a) => a !== '');
}
