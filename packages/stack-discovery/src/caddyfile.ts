import { ConfigError, readTextFile } from '@datamancy/core';
import {
  parseCaddyfileTree,
  substituteCaddyEnv,
  type CaddyfileTree,
  type Directive,
} from './caddyfile-syntax.ts';
import type { Env } from './interpolate.ts';

/**
 * What a Caddyfile says about the stack: which public address reaches which upstream, and
 * whether a `forward_auth` (directly, or through an imported snippet) guards the way.
 * `reverse_proxy` is found at site level and inside `handle`, `handle_path` and `route`;
 * named matchers with `host` and `path` narrow a route, so a wildcard site works too.
 */

export interface Upstream {
  host: string;
  port?: number;
}

export interface CaddyRoute {
  /** Public URLs, e.g. `https://grafana.example.org` or `https://example.org/wiki/`. */
  urls: string[];
  upstream: Upstream;
  /** The forward_auth upstream guarding this route, e.g. authelia:9091. */
  auth?: Upstream;
  /** Where the reverse_proxy is written, for messages. */
  line: number;
}

export interface CaddyRoutes {
  origin: string;
  routes: CaddyRoute[];
}

interface Scope {
  /** Concrete site addresses as `scheme://host[:port]`. */
  bases: string[];
  path: string;
  auth?: Upstream;
}

interface Matcher {
  hosts: string[];
  paths: string[];
}

const MAX_IMPORT_DEPTH = 10;

/** `grafana:3000`, `http://grafana:3000`, `h2c://app`, `[::1]:80`; nothing for placeholders. */
export function parseUpstream(text: string): Upstream | undefined {
  if (text.includes('{') || text.startsWith('unix/')) return undefined;
  const match = /^(?:(https?|h2c):\/\/)?(\[[^\]]+\]|[^:/[\]]+)(?::(\d+))?\/?$/i.exec(text);
  if (match?.[2] === undefined) return undefined;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  return { host: match[2].toLowerCase(), ...(port === undefined ? {} : { port }) };
}

/** A site address as a base URL, or undefined for host-less (`:443`) and wildcard addresses. */
export function addressToBase(address: string): { base: string; path: string } | undefined {
  const match = /^(?:(https?):\/\/)?([^:/]*)(?::(\d+))?(\/.*)?$/i.exec(address);
  if (match === null) return undefined;
  const host = (match[2] ?? '').toLowerCase();
  if (host === '' || host.includes('*') || host.includes('{')) return undefined;
  const port = match[3];
  const scheme = match[1]?.toLowerCase() ?? (port === '80' ? 'http' : 'https');
  const standard = (scheme === 'https' && port === '443') || (scheme === 'http' && port === '80');
  return {
    base: `${scheme}://${host}${port === undefined || standard ? '' : `:${port}`}`,
    path: (match[4] ?? '').replace(/\*$/, ''),
  };
}

function isMatcherToken(arg: string | undefined): boolean {
  return arg !== undefined && (arg.startsWith('@') || arg.startsWith('/') || arg === '*');
}

class Analyzer {
  readonly routes: CaddyRoute[] = [];
  readonly warnings: string[] = [];
  constructor(
    private readonly tree: CaddyfileTree,
    private readonly origin: string,
  ) {}

  /** Replaces `import <snippet>` by the snippet's directives, recursively. */
  expand(block: readonly Directive[], depth = 0): Directive[] {
    return block.flatMap((d): Directive[] => {
      if (d.name !== 'import') return [d];
      const snippet = this.tree.snippets.get(d.args[0] ?? '');
      if (snippet === undefined) {
        this.warnings.push(
          `${this.origin}:${d.line}: import ${d.args.join(' ')} is not a snippet here; not followed`,
        );
        return [];
      }
      if (depth >= MAX_IMPORT_DEPTH) {
        throw new ConfigError(
          [{ path: `line ${d.line}`, message: `imports nest deeper than ${MAX_IMPORT_DEPTH}` }],
          this.origin,
        );
      }
      return this.expand(snippet, depth + 1);
    });
  }

  matchers(block: readonly Directive[]): Map<string, Matcher> {
    const out = new Map<string, Matcher>();
    for (const d of block) {
      if (!d.name.startsWith('@')) continue;
      const m: Matcher = out.get(d.name) ?? { hosts: [], paths: [] };
      const conditions = d.block ?? [
        { name: d.args[0] ?? '', args: d.args.slice(1), line: d.line },
      ];
      for (const c of conditions) {
        if (c.name === 'host') m.hosts.push(...c.args);
        if (c.name === 'path') m.paths.push(...c.args);
      }
      out.set(d.name, m);
    }
    return out;
  }

  /** Narrows a scope by a matcher token: a path, or a named matcher's hosts and paths. */
  narrow(scope: Scope, token: string | undefined, matchers: Map<string, Matcher>): Scope {
    if (token === undefined || token === '*') return scope;
    if (token.startsWith('/')) return { ...scope, path: scope.path + token.replace(/\*$/, '') };
    const m = matchers.get(token);
    if (m === undefined) return scope;
    const hosts = m.hosts.flatMap((h) => {
      const base = addressToBase(h);
      if (base === undefined) return [];
      // a matcher host keeps the scheme and port its site listens on
      const site = scope.bases[0] ?? 'https://x';
      const scheme = site.slice(0, site.indexOf('://'));
      const port = /:(\d+)$/.exec(site.replace(/^[a-z]+:\/\//, ''))?.[0] ?? '';
      return [`${scheme}://${base.base.replace(/^[a-z]+:\/\//, '')}${port}`];
    });
    return {
      ...scope,
      bases: hosts.length > 0 ? hosts : scope.bases,
      path: scope.path + (m.paths[0] ?? '').replace(/\*$/, ''),
    };
  }

  walk(raw: readonly Directive[], outer: Scope, inherited: Map<string, Matcher>): void {
    const block = this.expand(raw);
    const matchers = new Map([...inherited, ...this.matchers(block)]);
    const scope: Scope = { ...outer };
    for (const d of block) {
      if (d.name !== 'forward_auth') continue;
      const args = isMatcherToken(d.args[0]) ? d.args.slice(1) : d.args;
      const auth = parseUpstream(args[0] ?? '');
      if (auth === undefined) {
        this.warnings.push(`${this.origin}:${d.line}: forward_auth without a usable upstream`);
      } else scope.auth = auth;
    }
    for (const d of block) {
      switch (d.name) {
        case 'reverse_proxy': {
          const matcher = isMatcherToken(d.args[0]) ? d.args[0] : undefined;
          const args = matcher === undefined ? d.args : d.args.slice(1);
          const to = (d.block ?? []).filter((s) => s.name === 'to').flatMap((s) => s.args);
          this.route(this.narrow(scope, matcher, matchers), [...args, ...to], d.line);
          break;
        }
        case 'handle':
        case 'handle_path':
        case 'route':
          if (d.block !== undefined)
            this.walk(d.block, this.narrow(scope, d.args[0], matchers), matchers);
          break;
        default:
          break;
      }
    }
  }

  route(scope: Scope, upstreams: string[], line: number): void {
    const urls = scope.bases.map((b) => `${b}${scope.path === '' ? '' : scope.path}`);
    if (urls.length === 0) {
      this.warnings.push(
        `${this.origin}:${line}: reverse_proxy in a site without a concrete host; no external URL`,
      );
      return;
    }
    for (const text of upstreams) {
      const upstream = parseUpstream(text);
      if (upstream === undefined) {
        this.warnings.push(`${this.origin}:${line}: upstream "${text}" is not host:port; skipped`);
        continue;
      }
      this.routes.push({
        urls,
        upstream,
        ...(scope.auth === undefined ? {} : { auth: scope.auth }),
        line,
      });
    }
  }
}

export interface CaddyParseOptions {
  env: Env;
  warn?: (message: string) => void;
}

/** Parses a Caddyfile into its routes; throws ConfigError naming the file and line. */
export function parseCaddyfile(
  text: string,
  origin: string,
  options: CaddyParseOptions,
): CaddyRoutes {
  const warn = options.warn ?? (() => undefined);
  const missing = new Set<string>();
  const substituted = substituteCaddyEnv(text, options.env, (name) => missing.add(name));
  for (const name of missing) warn(`${origin}: variable ${name} is not set; using ""`);
  const tree = parseCaddyfileTree(substituted, origin);
  for (const imported of tree.topImports)
    warn(`${origin}: top-level import ${imported} is not followed`);
  const analyzer = new Analyzer(tree, origin);
  for (const site of tree.sites) {
    const parsed = site.addresses.map(addressToBase);
    const bases = parsed.flatMap((p) => (p === undefined ? [] : [p.base]));
    const path = parsed.find((p) => p !== undefined)?.path ?? '';
    analyzer.walk(site.block, { bases, path }, new Map());
  }
  for (const w of analyzer.warnings) warn(w);
  return { origin, routes: analyzer.routes };
}

export function loadCaddyfile(path: string, options: CaddyParseOptions): CaddyRoutes {
  const text = readTextFile(path);
  return parseCaddyfile(text, path, options);
}
