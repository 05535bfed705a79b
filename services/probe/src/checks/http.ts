import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { isRedirect, planRedirect, type RedirectRequest, type SsrfGuard } from '@datamancy/core';
import { findSignatures } from '../judge/signatures.ts';
import type { HttpCheck, StatusRule } from '../manifest/schema.ts';
import { decodeBody, htmlText } from './page-text.ts';
import {
  errorEvidence,
  excerpt,
  type Attempt,
  type CheckStatus,
  type Evidence,
  type RedirectHop,
} from './types.ts';

/** Body bytes read for keyword and signature matching; the rest is discarded. */
export const MAX_BODY_BYTES = 256 * 1024;
const MAX_REDIRECTS = 5;
const KEPT_HEADERS = ['server', 'content-type', 'location', 'retry-after'];

/** `200`, `2xx`, `200-399`, `<500` as a predicate. */
export function statusMatcher(rule: StatusRule): (status: number) => boolean {
  if (typeof rule === 'number') return (s) => s === rule;
  if (/^[1-5]xx$/.test(rule)) {
    const hundred = Number(rule[0]) * 100;
    return (s) => s >= hundred && s < hundred + 100;
  }
  if (rule.startsWith('<')) {
    const limit = Number(rule.slice(1));
    return (s) => s < limit;
  }
  const [lo, hi] = rule.includes('-') ? rule.split('-').map(Number) : [Number(rule), Number(rule)];
  return (s) => s >= (lo ?? 0) && s <= (hi ?? 0);
}

/** `a.b.0.c` into a parsed JSON value; undefined when any step is missing. */
export function jsonPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current)
      ? current[Number(key)]
      : (current as Record<string, unknown>)[key];
  }
  return current;
}

interface Hop {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  certificate?: Evidence['certificate'];
}

/** HTTP client of the probe: keep-alive agents, SSRF-checked hosts and addresses. */
export class ProbeHttp {
  readonly #http: HttpAgent;
  readonly #https: HttpsAgent;
  readonly #httpsInsecure: HttpsAgent;

  constructor(
    private readonly guard: SsrfGuard,
    maxSockets = 64,
  ) {
    const common = { keepAlive: true, maxSockets, maxFreeSockets: 16, timeout: 60_000 };
    this.#http = new HttpAgent(common);
    this.#https = new HttpsAgent(common);
    this.#httpsInsecure = new HttpsAgent({ ...common, rejectUnauthorized: false });
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
    this.#httpsInsecure.destroy();
  }

  /** One request, no redirects: status, headers, the first MAX_BODY_BYTES, the peer's certificate. */
  request(
    url: URL,
    init: {
      method: string;
      headers: Record<string, string>;
      body?: string | undefined;
      insecureTls: boolean;
    },
    signal: AbortSignal,
  ): Promise<Hop> {
    this.guard.checkUrl(url);
    const secure = url.protocol === 'https:';
    const agent = secure ? (init.insecureTls ? this.#httpsInsecure : this.#https) : this.#http;
    const send = secure ? httpsRequest : httpRequest;
    return new Promise<Hop>((resolve, reject) => {
      const req = send(
        url,
        {
          method: init.method,
          headers: { 'user-agent': 'datamancy-probe', accept: '*/*', ...init.headers },
          agent,
          lookup: this.guard.lookup,
          signal,
        },
        (res) => {
          let certificate: Evidence['certificate'];
          if (secure) certificate = certificateOf(res.socket as TLSSocket);
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size >= MAX_BODY_BYTES) return;
            chunks.push(chunk);
            size += chunk.length;
          });
          res.once('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES),
              ...(certificate === undefined ? {} : { certificate }),
            }),
          );
          res.once('error', reject);
        },
      );
      req.once('error', reject);
      req.end(init.body);
    });
  }
}

function certificateOf(socket: TLSSocket): Evidence['certificate'] {
  const cert = socket.getPeerCertificate?.();
  if (cert === undefined || cert.valid_to === undefined) return undefined;
  const validTo = new Date(cert.valid_to);
  const name = (o: unknown): string => {
    const rec = (o ?? {}) as Record<string, unknown>;
    const value = rec.CN ?? rec.O ?? '';
    if (Array.isArray(value)) return value.filter((v) => typeof v === 'string').join(', ');
    return typeof value === 'string' ? value : '';
  };
  const validFrom = new Date(cert.valid_from);
  const lifetimeMs = validTo.getTime() - validFrom.getTime();
  return {
    subject: name(cert.subject),
    issuer: name(cert.issuer),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000),
    msLeft: validTo.getTime() - Date.now(),
    ...(Number.isFinite(lifetimeMs) && lifetimeMs > 0 ? { lifetimeMs } : {}),
  };
}

/**
 * What a certificate's remaining life says. A short-lived certificate (an internal CA's lasts
 * hours) is renewed when a third of its life is left, as Caddy and ACME clients do: the
 * warning comes at `certMinDays` or at that third, whichever is sooner, so a healthy 12 h
 * certificate is not called expiring and a 90-day one warns 14 days ahead.
 */
export function certificateVerdict(
  cert: NonNullable<Evidence['certificate']>,
  certMinDays: number,
): { status: 'fail' | 'degraded'; reason: string } | undefined {
  const left = cert.msLeft ?? cert.daysLeft * 86_400_000;
  const warnAt = Math.min(
    certMinDays * 86_400_000,
    cert.lifetimeMs === undefined ? Infinity : cert.lifetimeMs / 3,
  );
  if (left < 0) return { status: 'fail', reason: `TLS certificate expired on ${cert.validTo}` };
  if (left >= warnAt) return undefined;
  return {
    status: 'degraded',
    reason:
      cert.daysLeft >= 1
        ? `TLS certificate expires in ${cert.daysLeft} day(s)`
        : `TLS certificate expires in ${(left / 3_600_000).toFixed(1)} h, past the point it should have been renewed`,
  };
}

/** Runs an `http` check once. */
export async function runHttpCheck(
  http: ProbeHttp,
  check: HttpCheck,
  signal: AbortSignal,
): Promise<Attempt> {
  const started = performance.now();
  const evidence: Evidence = { reasons: [], url: check.url };
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
  let url = new URL(check.url);
  let hop: Hop;
  let request: RedirectRequest = { method: check.method, headers: check.headers, body: check.body };
  const redirects: RedirectHop[] = [];
  try {
    for (;;) {
      hop = await http.request(
        url,
        {
          method: request.method,
          headers: request.headers,
          body: request.body,
          insecureTls: check.insecureTls,
        },
        signal,
      );
      const location = hop.headers.location;
      if (!check.followRedirects || !isRedirect(hop.status) || location === undefined) break;
      if (redirects.length >= MAX_REDIRECTS)
        throw Object.assign(new Error(`more than ${MAX_REDIRECTS} redirects`), {
          code: 'TOO_MANY_REDIRECTS',
        });
      // One rule with the tools' guarded client: credentials and body stay on their origin.
      const plan = planRedirect(url, hop.status, location, request);
      if (!plan.follow) {
        redirects.push({
          status: hop.status,
          location: plan.url.href,
          crossOrigin: true,
          dropped: [],
          refused: plan.reason,
        });
        throw Object.assign(new Error(plan.reason), { code: 'REDIRECT_REFUSED' });
      }
      redirects.push({
        status: hop.status,
        location: plan.url.href,
        crossOrigin: plan.crossOrigin,
        dropped: plan.dropped,
        ...(plan.request.method === request.method ? {} : { method: plan.request.method }),
      });
      request = plan.request;
      url = plan.url;
    }
  } catch (err) {
    const latencyMs = elapsed();
    const error = signal.aborted
      ? { code: 'TIMEOUT', message: `no answer within ${check.timeoutMs} ms` }
      : errorEvidence(err);
    evidence.error = error;
    evidence.reasons.push(`${error.code}: ${error.message}`);
    if (redirects.length > 0) evidence.redirects = redirects;
    return { status: 'fail', latencyMs, message: `${error.code}: ${error.message}`, evidence };
  }
  const latencyMs = elapsed();
  evidence.httpStatus = hop.status;
  if (redirects.length > 0) {
    evidence.redirects = redirects;
    evidence.finalUrl = url.href;
  }
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = hop.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  evidence.headers = headers;
  if (hop.certificate !== undefined) evidence.certificate = hop.certificate;

  let status: CheckStatus = 'pass';
  const fail = (reason: string): void => {
    status = 'fail';
    evidence.reasons.push(reason);
  };
  const degrade = (reason: string): void => {
    if (status === 'pass') status = 'degraded';
    evidence.reasons.push(reason);
  };

  if (!check.expectStatus.some((rule) => statusMatcher(rule)(hop.status))) {
    fail(`status ${hop.status}, expected ${check.expectStatus.join(' or ')}`);
  }
  const type = headers['content-type'] ?? '';
  const body = decodeBody(hop.body, type);
  const isHtml = /html/i.test(type) || /^\s*<(!doctype|html)/i.test(body);
  const page = isHtml ? htmlText(body) : { title: '', text: body };
  if (page.title !== '') evidence.title = page.title;
  if (body !== '') evidence.textExcerpt = excerpt(page.text);
  if (check.keyword !== undefined && !body.includes(check.keyword))
    fail(`keyword "${check.keyword}" not found`);
  if (check.notKeyword !== undefined && body.includes(check.notKeyword))
    fail(`unwanted text "${check.notKeyword}" found`);
  if (check.regex !== undefined && !new RegExp(check.regex).test(body))
    fail(`no match for /${check.regex}/`);
  if (check.json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      fail('body is not JSON');
    }
    if (parsed !== undefined) {
      const value = jsonPath(parsed, check.json.path);
      if (value === undefined) fail(`JSON path ${check.json.path} missing`);
      else if (
        'equals' in check.json &&
        check.json.equals !== undefined &&
        value !== check.json.equals
      ) {
        fail(
          `JSON ${check.json.path} is ${JSON.stringify(value)}, expected ${JSON.stringify(check.json.equals)}`,
        );
      }
    }
  }
  // A 2xx/3xx page whose title says it is an error is an error (a proxy's 502 page served
  // with 200). The same phrase only in the page's content (a forum post quoting one) is a
  // hint: anyone who can write to the page can write it, so it degrades, never fails.
  if (hop.status < 400 && isHtml) {
    const signatures = findSignatures(page.title, page.text);
    if (signatures.length > 0) {
      evidence.signatures = signatures;
      const described = signatures.map((s) => s.description).join(', ');
      if (signatures.some((s) => s.where === 'title')) fail(`error page: ${described}`);
      else degrade(`error phrase in the page's content (not its title): ${described}`);
    }
  }
  const cert = evidence.certificate;
  if (cert !== undefined) {
    const verdict = certificateVerdict(cert, check.certMinDays);
    if (verdict?.status === 'fail') fail(verdict.reason);
    else if (verdict !== undefined) degrade(verdict.reason);
  }
  if (check.latencyBudgetMs !== undefined && latencyMs > check.latencyBudgetMs) {
    degrade(`took ${Math.round(latencyMs)} ms, budget ${check.latencyBudgetMs} ms`);
  }
  const message =
    evidence.reasons.length === 0
      ? `${hop.status} in ${Math.round(latencyMs)} ms`
      : `${hop.status}: ${evidence.reasons.join('; ')}`;
  return { status, latencyMs, message, evidence };
}
