import { ApiError, pageFailureOf, type BrowserClient } from '@datamancy/clients';
import { findSignatures, isBlank } from '../judge/signatures.ts';
import type { BrowserCheck } from '../manifest/schema.ts';
import type { Ocr } from './ocr.ts';
import type { ProofStore } from './proofs.ts';
import { errorEvidence, excerpt, type Attempt, type CheckStatus, type Evidence } from './types.ts';

export interface BrowserCheckDeps {
  browser: BrowserClient;
  proofs: ProofStore;
  /** Absent: `ocr: true` checks say OCR is unavailable instead of reading the image. */
  ocr?: Ocr | undefined;
}

/** Text read from the page for judgement (the evidence keeps an excerpt). */
const TEXT_BUDGET = 20_000;
/** Time kept back from the check's timeout for OCR and bookkeeping. */
const OCR_RESERVE_MS = 5_000;

/**
 * Runs a `browser` check once: a screenshot in a fresh context through the browser service,
 * the page's visible text and login-form signal, optionally OCR; then the rules: navigation
 * failures, error signatures, blank page, SSO login wall, expected text.
 */
export async function runBrowserCheck(
  deps: BrowserCheckDeps,
  check: BrowserCheck,
  signal: AbortSignal,
): Promise<Attempt> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const evidence: Evidence = { reasons: [], url: check.url };
  const pageTimeout = Math.max(
    1000,
    check.ocr ? check.timeoutMs - OCR_RESERVE_MS : check.timeoutMs - 500,
  );
  let shot;
  try {
    shot = await deps.browser.screenshot(
      {
        url: check.url,
        timeoutMs: pageTimeout,
        includeText: true,
        maxChars: TEXT_BUDGET,
        ...(check.expectSelector === undefined ? {} : { selector: check.expectSelector }),
      },
      signal,
    );
  } catch (err) {
    const failure = pageFailureOf(err);
    if (failure !== undefined) {
      // The target failed: refused, timed out, HTTP >= 400, or the expected element is missing.
      // The network error itself (net::ERR_CONNECTION_REFUSED) says more than the envelope's code.
      evidence.error = { code: failure.netError ?? failure.code, message: failure.message };
      if (failure.status !== null) evidence.httpStatus = failure.status;
      if (failure.finalUrl !== '') evidence.finalUrl = failure.finalUrl;
      if (failure.title !== undefined) evidence.title = failure.title;
      if (failure.image !== undefined) {
        evidence.proof = await deps.proofs.save(Buffer.from(failure.image, 'base64'));
      }
      const reason =
        failure.failure === 'selector-missing'
          ? `expected element ${check.expectSelector ?? ''} not found`
          : failure.message;
      evidence.reasons.push(reason);
      return { status: 'fail', latencyMs: elapsed(), message: reason, evidence };
    }
    // The browser service could not do the job (down, busy, refused the URL): no verdict.
    const error = signal.aborted
      ? { code: 'TIMEOUT', message: `no answer within ${check.timeoutMs} ms` }
      : errorEvidence(err);
    evidence.error = error;
    if (err instanceof ApiError && err.code === 'URL_REFUSED') {
      evidence.reasons.push(`URL refused by the browser's SSRF guard: ${err.message}`);
      return { status: 'fail', latencyMs: elapsed(), message: evidence.reasons[0] ?? '', evidence };
    }
    const status: CheckStatus = signal.aborted ? 'fail' : 'unknown';
    evidence.reasons.push(`browser service: ${error.code}: ${error.message}`);
    return { status, latencyMs: elapsed(), message: evidence.reasons[0] ?? '', evidence };
  }

  const png = Buffer.from(shot.image, 'base64');
  evidence.proof = await deps.proofs.save(png);
  evidence.httpStatus = shot.status;
  evidence.finalUrl = shot.finalUrl;
  evidence.title = shot.title;
  const text = shot.text ?? '';
  evidence.textExcerpt = excerpt(text);
  let ocrText = '';
  let status: CheckStatus = 'pass';
  const fail = (reason: string): void => {
    status = 'fail';
    evidence.reasons.push(reason);
  };
  if (check.ocr) {
    if (deps.ocr === undefined) {
      evidence.reasons.push('OCR unavailable (tesseract not installed)');
    } else {
      try {
        ocrText = await deps.ocr(png, signal);
        evidence.ocrExcerpt = excerpt(ocrText);
      } catch (err) {
        evidence.reasons.push(`OCR failed: ${errorEvidence(err).message}`);
      }
    }
  }

  const signatures = [
    ...findSignatures(shot.title, text),
    ...(ocrText === '' ? [] : findSignatures('', ocrText)),
  ].filter((s, i, all) => all.findIndex((o) => o.id === s.id) === i);
  if (signatures.length > 0) {
    evidence.signatures = signatures;
    fail(`error page: ${signatures.map((s) => s.description).join(', ')}`);
  }
  if (isBlank(shot.title, text) && ocrText.trim() === '') fail('blank page: no title, no text');
  const loginWall = shot.loginForm !== undefined && shot.loginForm !== null;
  evidence.loginWall = loginWall;
  if (loginWall && check.loginWall === 'fail') {
    fail(`SSO login page (${shot.loginForm ?? 'form'}) instead of the app at ${shot.finalUrl}`);
  }
  if (check.expectText !== undefined && !loginWall) {
    const needle = check.expectText.toLowerCase();
    const found = text.toLowerCase().includes(needle) || ocrText.toLowerCase().includes(needle);
    if (!found) fail(`expected text "${check.expectText}" not on the page`);
  }
  const latencyMs = elapsed();
  const message =
    status === 'pass'
      ? `${shot.status} "${excerpt(shot.title, 60)}"${loginWall ? ' (login wall, expected)' : ''} in ${latencyMs} ms`
      : evidence.reasons.join('; ');
  return { status, latencyMs, message, evidence };
}
