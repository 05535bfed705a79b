import { ApiError, HttpClient, type ClientOptions } from './http.ts';

/**
 * Typed client of the browser service. A page that fails (HTTP ≥ 400, network error, timeout,
 * SSRF refusal) throws `ApiError` (502, 504 or 403); `pageFailureOf(err)` reads its details.
 */

export type WaitUntil = 'load' | 'domcontentloaded' | 'networkidle';

export interface PageRequest {
  url: string;
  waitUntil?: WaitUntil;
  timeoutMs?: number;
  viewport?: { width: number; height: number };
}

export interface ScreenshotRequest extends PageRequest {
  fullPage?: boolean;
  selector?: string;
  /** Also return the visible text and whether a login form shows. */
  includeText?: boolean;
  maxChars?: number;
}

export interface DomRequest extends PageRequest {
  selector?: string;
  maxChars?: number;
}

export interface SnapshotRequest extends DomRequest {
  depth?: number;
}

export interface LoginRequest extends PageRequest {
  username: string;
  password: string;
  selectors?: { username?: string; password?: string; submit?: string };
  successSelector?: string;
  successUrlPattern?: string;
}

export interface BlockedRequestInfo {
  url: string;
  reason: string;
  by: 'route' | 'proxy';
  navigation: boolean;
}

export interface PageResult {
  ok: true;
  status: number;
  finalUrl: string;
  title: string;
  timing: { queuedMs: number; navigationMs: number | null; totalMs: number };
  blockedCount: number;
  blockedRequests: BlockedRequestInfo[];
}

export interface ScreenshotResult extends PageResult {
  image: string;
  imageBytes: number;
  fullPage: boolean;
  viewport: { width: number; height: number };
  proofPath?: string;
  /** With `includeText`. */
  text?: string;
  textChars?: number;
  textTruncated?: boolean;
  loginForm?: 'authelia' | 'generic' | null;
}

export interface DomResult extends PageResult {
  html: string;
  text: string;
  htmlChars: number;
  textChars: number;
  htmlTruncated: boolean;
  textTruncated: boolean;
  maxChars: number;
}

export interface SnapshotResult extends PageResult {
  format: 'aria-yaml';
  snapshot: string;
  chars: number;
  truncated: boolean;
  maxChars: number;
}

export interface LoginResult extends PageResult {
  loginFormDetected: boolean;
  loginSucceeded: boolean;
  form: 'authelia' | 'custom' | 'generic' | null;
  signals: {
    usernameFieldFound: boolean;
    passwordFieldGone: boolean;
    urlChanged: boolean;
    successSelectorFound: boolean | null;
    successUrlMatched: boolean | null;
    statusAfterSubmit: number | null;
  };
  image: string;
  proofPath?: string;
}

export interface PngScreenshot {
  png: Uint8Array;
  status: number;
  finalUrl: string;
  totalMs: number;
}

export interface BrowserPressure {
  running: number;
  queued: number;
  maxConcurrency: number;
  maxQueue: number;
  browserConnected: boolean;
  openContexts: number;
  relaunches: number;
  served: number;
  failed: number;
  rejected: number;
  refused: number;
}

export type PageFailureKind =
  'http-status' | 'network' | 'timeout' | 'refused' | 'selector-missing';

/** What the service says about a page that failed. */
export interface PageFailureInfo {
  code: string;
  message: string;
  ok: false;
  failure: PageFailureKind;
  status: number | null;
  finalUrl: string;
  netError?: string;
  reason?: string;
  blockedUrl?: string;
  title?: string;
  /** base64 PNG of the error page (screenshot and login), when one rendered. */
  image?: string;
}

/** The page failure an `ApiError` carries, or undefined for other errors (auth, 429...). */
export function pageFailureOf(err: unknown): PageFailureInfo | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const error = (err.body as { error?: Partial<PageFailureInfo> } | null)?.error;
  return error?.ok === false && typeof error.failure === 'string'
    ? (error as PageFailureInfo)
    : undefined;
}

export class BrowserClient {
  readonly http: HttpClient;
  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  health(): Promise<{ status: string; version: string; browserConnected: boolean }> {
    return this.http.request('GET', '/healthz');
  }

  screenshot(req: ScreenshotRequest, signal?: AbortSignal): Promise<ScreenshotResult> {
    return this.http.request('POST', '/screenshot', req, signal);
  }

  /** The bare PNG (`Accept: image/png`); only a healthy page answers with one. */
  async screenshotPng(req: ScreenshotRequest, signal?: AbortSignal): Promise<PngScreenshot> {
    const { bytes, headers } = await this.http.requestBytes(
      'POST',
      '/screenshot',
      'image/png',
      req,
      signal,
    );
    return {
      png: bytes,
      status: Number(headers.get('x-page-status')),
      finalUrl: headers.get('x-final-url') ?? '',
      totalMs: Number(headers.get('x-total-ms')),
    };
  }

  dom(req: DomRequest, signal?: AbortSignal): Promise<DomResult> {
    return this.http.request('POST', '/dom', req, signal);
  }

  snapshot(req: SnapshotRequest, signal?: AbortSignal): Promise<SnapshotResult> {
    return this.http.request('POST', '/snapshot', req, signal);
  }

  login(req: LoginRequest, signal?: AbortSignal): Promise<LoginResult> {
    return this.http.request('POST', '/login', req, signal);
  }

  pressure(): Promise<BrowserPressure> {
    return this.http.request('GET', '/pressure');
  }
}
