import { errors, type Locator } from 'playwright-core';
import { validationError } from '@datamancy/core';
import { PageFailureError } from './navigate.ts';
import type { PageSession } from './session.ts';

/** What a loaded page yields: pixels, markup and text, the accessibility tree; all within budgets. */

export interface Budgeted {
  text: string;
  /** Length before cutting. */
  chars: number;
  truncated: boolean;
}

/** Cuts `text` to `maxChars` without splitting a surrogate pair; `lines` cuts at a line end. */
export function cutText(text: string, maxChars: number, lines = false): Budgeted {
  if (text.length <= maxChars) return { text, chars: text.length, truncated: false };
  let end = maxChars;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--; // a high surrogate without its pair
  if (lines) {
    const lastBreak = text.lastIndexOf('\n', end);
    if (lastBreak > 0) end = lastBreak;
  }
  return { text: text.slice(0, end), chars: text.length, truncated: true };
}

const SELECTOR_SYNTAX_RE = /while parsing|is not a valid selector|Unknown engine/i;

/** The first element matching `selector`, waited for until the deadline. */
export async function waitForElement(
  session: PageSession,
  selector: string,
  state: 'attached' | 'visible',
): Promise<Locator> {
  const locator = session.page.locator(selector).first();
  try {
    await locator.waitFor({ state, timeout: session.remaining() });
    return locator;
  } catch (err) {
    if (session.aborted) throw err;
    if (SELECTOR_SYNTAX_RE.test((err as Error).message)) {
      throw validationError('BAD_REQUEST', [
        { path: 'selector', message: (err as Error).message.split('\n')[0] ?? 'invalid selector' },
      ]);
    }
    if (!(err instanceof errors.TimeoutError) && !session.expired) throw err;
    throw new PageFailureError({
      kind: 'selector-missing',
      message: `no ${state} element matches ${JSON.stringify(selector)} within the deadline`,
      status: session.lastNavigationResponse?.status() ?? null,
      finalUrl: session.page.url(),
    });
  }
}

export interface ScreenshotOptions {
  fullPage: boolean;
  selector?: string | undefined;
}

export async function takeScreenshot(
  session: PageSession,
  options: ScreenshotOptions,
): Promise<Buffer> {
  const shot = { type: 'png', animations: 'disabled', caret: 'hide' } as const;
  if (options.selector !== undefined) {
    const element = await waitForElement(session, options.selector, 'visible');
    return element.screenshot({ ...shot, timeout: session.remaining() });
  }
  return session.page.screenshot({
    ...shot,
    fullPage: options.fullPage,
    timeout: session.remaining(),
  });
}

export interface DomOptions {
  selector?: string | undefined;
  maxChars: number;
}

export interface DomCapture {
  html: Budgeted;
  text: Budgeted;
}

// Runs in the page: visible text (innerText) of the body, or all text when there is no body.
const PAGE_TEXT =
  "document.body ? document.body.innerText : (document.documentElement?.textContent ?? '')";

export async function readDom(session: PageSession, options: DomOptions): Promise<DomCapture> {
  let html: string;
  let text: unknown;
  if (options.selector !== undefined) {
    const element = await waitForElement(session, options.selector, 'attached');
    html = await element.evaluate((el: { outerHTML: string }) => el.outerHTML, undefined, {
      timeout: session.remaining(),
    });
    text = await element.innerText({ timeout: session.remaining() });
  } else {
    html = await session.page.content();
    text = await session.page.evaluate(PAGE_TEXT);
  }
  return {
    html: cutText(html, options.maxChars),
    text: cutText(typeof text === 'string' ? text : '', options.maxChars),
  };
}

export interface SnapshotOptions {
  selector?: string | undefined;
  maxChars: number;
  depth?: number | undefined;
}

/**
 * The accessibility tree as indented text (Playwright's ARIA snapshot: one `- role "name"` line
 * per node, children indented), cut at a line end to fit the budget.
 */
export async function readSnapshot(
  session: PageSession,
  options: SnapshotOptions,
): Promise<Budgeted> {
  const snapshotOptions = {
    timeout: session.remaining(),
    ...(options.depth === undefined ? {} : { depth: options.depth }),
  };
  const tree =
    options.selector === undefined
      ? await session.page.ariaSnapshot(snapshotOptions)
      : await (
          await waitForElement(session, options.selector, 'attached')
        ).ariaSnapshot(snapshotOptions);
  return cutText(tree, options.maxChars, true);
}

export interface PageTextSignals {
  text: Budgeted;
  /** A visible password field: the page is a login form (an SSO wall, when unexpected). */
  loginForm: 'authelia' | 'generic' | null;
}

// Runs in the page: which login form is visible, if any (Authelia's ids first).
const LOGIN_FORM = `(() => {
  const visible = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  if (visible(document.querySelector('#password-textfield'))) return 'authelia';
  return [...document.querySelectorAll('input[type=password]')].some(visible) ? 'generic' : null;
})()`;

/** The page's visible text and whether it shows a login form, read after a screenshot. */
export async function readTextSignals(
  session: PageSession,
  maxChars: number,
): Promise<PageTextSignals> {
  const text = await session.page.evaluate(PAGE_TEXT);
  const form = await session.page.evaluate(LOGIN_FORM);
  return {
    text: cutText(typeof text === 'string' ? text : '', maxChars),
    loginForm: form === 'authelia' || form === 'generic' ? form : null,
  };
}
