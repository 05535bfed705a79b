import type { Locator, Page } from 'playwright-core';
import type { PageSession } from './session.ts';

/**
 * Form login: find the form (Authelia's ids first, then any visible password field), fill it,
 * submit, and judge the outcome. The password is only ever handed to `fill`; errors that could
 * quote it are scrubbed before they leave this file.
 */

export const AUTHELIA_SELECTORS = {
  username: '#username-textfield',
  password: '#password-textfield',
  submit: '#sign-in-button',
} as const;

const USERNAME_CANDIDATES = [
  AUTHELIA_SELECTORS.username,
  'input[autocomplete=username]',
  'input[type=email]',
  'input[name*=user i]',
  'input[id*=user i]',
  'input[name*=login i]',
  'input[type=text]',
];
const SUBMIT_CANDIDATES = [
  AUTHELIA_SELECTORS.submit,
  'button[type=submit]',
  'input[type=submit]',
  'form button:not([type])',
];
/** Longest wait for the login form to show (SPAs such as Authelia render it after load). */
const FORM_WAIT_MS = 10_000;
/** After the form was answered, how long the page gets to react (navigate, re-render). */
const SETTLE_MS = 1_500;

export interface LoginInput {
  username: string;
  password: string;
  selectors: {
    username?: string | undefined;
    password?: string | undefined;
    submit?: string | undefined;
  };
  successSelector?: string | undefined;
  successUrlPattern?: string | undefined;
}

export interface LoginOutcome {
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
}

async function firstVisible(
  page: Page,
  selectors: readonly string[],
): Promise<Locator | undefined> {
  for (const selector of selectors) {
    const locator = page.locator(selector).first();
    if (await locator.isVisible()) return locator;
  }
  return undefined;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Replaces every occurrence of the secrets in an error's message and stack. */
export function scrubError(err: unknown, secrets: readonly string[]): unknown {
  if (!(err instanceof Error)) return err;
  const scrub = (text: string): string =>
    secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
  const clean = new Error(scrub(err.message));
  clean.name = err.name;
  clean.stack = scrub(err.stack ?? '');
  return clean;
}

export async function performLogin(session: PageSession, input: LoginInput): Promise<LoginOutcome> {
  try {
    return await login(session, input);
  } catch (err) {
    throw scrubError(err, [input.password]);
  }
}

async function login(session: PageSession, input: LoginInput): Promise<LoginOutcome> {
  const { page } = session;
  const custom = input.selectors;
  const passwordSelector =
    custom.password ?? `${AUTHELIA_SELECTORS.password}, input[type=password]`;
  const password = page.locator(passwordSelector).first();
  const formWait = Math.min(FORM_WAIT_MS, Math.max(1, Math.floor(session.remaining() / 2)));
  const found = await password.waitFor({ state: 'visible', timeout: formWait }).then(
    () => true,
    () => false,
  );
  const signals: LoginOutcome['signals'] = {
    usernameFieldFound: false,
    passwordFieldGone: !found,
    urlChanged: false,
    successSelectorFound: null,
    successUrlMatched: null,
    statusAfterSubmit: null,
  };
  if (!found) return { loginFormDetected: false, loginSucceeded: false, form: null, signals };
  const form =
    custom.password !== undefined
      ? 'custom'
      : (await page.locator(AUTHELIA_SELECTORS.password).count()) > 0
        ? 'authelia'
        : 'generic';

  const username = await firstVisible(
    page,
    custom.username === undefined ? USERNAME_CANDIDATES : [custom.username],
  );
  signals.usernameFieldFound = username !== undefined;
  await username?.fill(input.username);
  await password.fill(input.password);

  const before = page.url();
  const responseBefore = session.lastNavigationResponse;
  const answered = page
    .waitForResponse((r) => r.request().method() !== 'GET' || r.request().isNavigationRequest(), {
      timeout: session.remaining(),
    })
    .then(
      () => 'answered' as const,
      () => 'timeout' as const,
    );
  const changed = Promise.race([
    page.waitForURL((url) => url.toString() !== before, { timeout: session.remaining() }),
    password.waitFor({ state: 'hidden', timeout: session.remaining() }),
    ...(input.successSelector === undefined
      ? []
      : [page.locator(input.successSelector).first().waitFor({ timeout: session.remaining() })]),
  ]).then(
    () => 'changed' as const,
    () => 'timeout' as const,
  );
  const submit = await firstVisible(
    page,
    custom.submit === undefined ? SUBMIT_CANDIDATES : [custom.submit],
  );
  if (submit !== undefined) await submit.click();
  else await password.press('Enter');

  if ((await Promise.race([changed, answered])) === 'answered') {
    await Promise.race([changed, delay(Math.min(SETTLE_MS, session.remaining()))]);
  }
  await page.waitForLoadState('load', { timeout: session.remaining() }).catch(() => undefined);

  const after = session.lastNavigationResponse;
  signals.statusAfterSubmit =
    after !== undefined && after !== responseBefore ? after.status() : null;
  signals.passwordFieldGone = !(await password.isVisible());
  signals.urlChanged = page.url() !== before;
  if (input.successSelector !== undefined) {
    signals.successSelectorFound = await page.locator(input.successSelector).first().isVisible();
  }
  if (input.successUrlPattern !== undefined) {
    signals.successUrlMatched = new RegExp(input.successUrlPattern).test(page.url());
  }
  const statusOk = signals.statusAfterSubmit === null || signals.statusAfterSubmit < 400;
  const explicit = [signals.successSelectorFound, signals.successUrlMatched].filter(
    (v): v is boolean => v !== null,
  );
  const loginSucceeded =
    statusOk && (explicit.length > 0 ? explicit.every(Boolean) : signals.passwordFieldGone);
  return { loginFormDetected: true, loginSucceeded, form, signals };
}
