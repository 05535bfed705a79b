import { isIP } from 'node:net';
import type { LookupAddress } from 'node:dns';
import type { BrowserContext, Response, Route } from 'playwright-core';
import { SsrfError, type Logger, type SsrfGuard } from '@datamancy/core';
import { GUARD_HEADER, parseGuardHeader } from './guard-proxy.ts';

/**
 * The SSRF guard as one browser context sees it: every request Playwright routes is checked
 * (scheme, host, resolved addresses) before it leaves Chromium and refused with
 * `route.abort('blockedbyclient')`; refusals by the guard proxy (redirect hops, which `route`
 * never sees) are picked up from its marked answers. Both are recorded for the result.
 */

export interface BlockedRequest {
  url: string;
  reason: string;
  /** `route`: refused before leaving the browser; `proxy`: refused by the guard proxy. */
  by: 'route' | 'proxy';
  navigation: boolean;
}

const KEEP_BLOCKED = 20;
/** Schemes that never reach the network. */
const LOCAL_SCHEMES = new Set(['data:', 'blob:', 'about:']);

export interface RequestGuardOptions {
  guard: SsrfGuard;
  proxyToken: string;
  logger: Logger;
  onBlocked?: (blocked: BlockedRequest) => void;
}

/**
 * Resolves a name with the guard's `lookup`: rejects with `SsrfError` when an address is
 * forbidden. A name that does not resolve at all is not a refusal: the navigation goes on and
 * fails in the proxy, which reports the DNS error (`ENOTFOUND`) like any network failure.
 */
export function resolveGuarded(guard: SsrfGuard, hostname: string): Promise<void> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) return Promise.resolve(); // literals were checked by checkUrl
  return new Promise((resolve, reject) => {
    guard.lookup(host, { all: true }, (err: Error | null, _addresses: LookupAddress[] | string) => {
      if (err instanceof SsrfError) reject(err);
      else resolve();
    });
  });
}

function schemeOf(url: string): string {
  return url.slice(0, url.indexOf(':') + 1).toLowerCase();
}

export class RequestGuard {
  readonly blocked: BlockedRequest[] = [];
  blockedCount = 0;
  readonly #lookups = new Map<string, Promise<void>>();

  constructor(private readonly options: RequestGuardOptions) {}

  get proxyToken(): string {
    return this.options.proxyToken;
  }

  /** Throws `SsrfError` unless the URL may be fetched, DNS included (cached per context). */
  async check(url: URL): Promise<void> {
    this.options.guard.checkUrl(url);
    let pending = this.#lookups.get(url.hostname);
    if (pending === undefined) {
      pending = resolveGuarded(this.options.guard, url.hostname);
      this.#lookups.set(url.hostname, pending);
    }
    await pending;
  }

  async install(context: BrowserContext): Promise<void> {
    context.on('response', (response) => this.#onResponse(response));
    await context.route('**/*', (route) => this.#onRoute(route));
  }

  /** Why a URL would be refused, or undefined when it may be fetched. */
  async refusal(url: string): Promise<SsrfError | undefined> {
    try {
      await this.check(new URL(url));
      return undefined;
    } catch (err) {
      if (err instanceof SsrfError) return err;
      if (err instanceof TypeError) return new SsrfError('scheme', `refused: not a URL: ${url}`);
      throw err;
    }
  }

  #record(blocked: BlockedRequest): void {
    this.blockedCount++;
    if (this.blocked.length < KEEP_BLOCKED) this.blocked.push(blocked);
    this.options.onBlocked?.(blocked);
  }

  async #onRoute(route: Route): Promise<void> {
    const request = route.request();
    const raw = request.url();
    try {
      const refused = LOCAL_SCHEMES.has(schemeOf(raw)) ? undefined : await this.refusal(raw);
      if (refused === undefined) {
        await route.continue();
        return;
      }
      this.#record({
        url: raw,
        reason: refused.reason,
        by: 'route',
        navigation: request.isNavigationRequest(),
      });
      await route.abort('blockedbyclient');
    } catch (err) {
      // The context closed under the route (deadline, client gone): nothing left to answer.
      this.options.logger.debug({ err, url: raw }, 'route handler could not answer');
    }
  }

  #onResponse(response: Response): void {
    const verdict = parseGuardHeader(response.headers()[GUARD_HEADER], this.options.proxyToken);
    if (verdict?.kind !== 'refused') return;
    this.#record({
      url: response.url(),
      reason: verdict.detail,
      by: 'proxy',
      navigation: response.request().isNavigationRequest(),
    });
  }
}
