import { z } from 'zod';
import { MAX_CHARS_LIMIT, ViewportSchema, type BrowserConfig } from '../config.ts';

/** Request bodies of the page endpoints; defaults and limits come from the service config. */

const selector = z.string().min(1).max(1000);

export function createRequestSchemas(config: BrowserConfig) {
  const page = z.object({
    url: z
      .url({ protocol: /^https?$/ })
      .max(4096)
      .describe('http or https URL; checked by the SSRF guard before anything is fetched'),
    waitUntil: z.enum(['load', 'domcontentloaded', 'networkidle']).default('load'),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(config.maxTimeoutMs)
      .default(config.defaultTimeoutMs)
      .describe('deadline of the whole page job: navigation and capture'),
    viewport: ViewportSchema.default(config.viewport),
  });
  const budget = z
    .number()
    .int()
    .min(100)
    .max(MAX_CHARS_LIMIT)
    .default(config.maxChars)
    .describe('character budget of each text field; longer text is cut and flagged');

  const screenshot = page.extend({
    fullPage: z.boolean().default(false),
    selector: selector.optional().describe('capture only the first element matching this'),
    includeText: z
      .boolean()
      .default(false)
      .describe('also return the visible text and whether a login form shows (JSON answers)'),
    maxChars: budget,
  });
  const dom = page.extend({
    selector: selector.optional().describe('read only the first element matching this'),
    maxChars: budget,
  });
  const snapshot = page.extend({
    selector: selector.optional().describe('snapshot only the first element matching this'),
    maxChars: budget,
    depth: z.number().int().min(1).max(100).optional(),
  });
  const login = page.extend({
    username: z.string().min(1).max(1000),
    password: z.string().min(1).max(1000),
    selectors: z
      .object({ username: selector, password: selector, submit: selector })
      .partial()
      .default({})
      .describe("form fields; Authelia's (then generic password-form detection) by default"),
    successSelector: selector.optional().describe('present after a successful login'),
    successUrlPattern: z
      .string()
      .min(1)
      .max(500)
      .refine(isRegExp, { message: 'not a valid regular expression' })
      .optional()
      .describe('regular expression the final URL matches after a successful login'),
  });
  return { screenshot, dom, snapshot, login };
}

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false; // the refinement reports it
  }
}

export type RequestSchemas = ReturnType<typeof createRequestSchemas>;
export type ScreenshotRequest = z.output<RequestSchemas['screenshot']>;
export type DomRequest = z.output<RequestSchemas['dom']>;
export type SnapshotRequest = z.output<RequestSchemas['snapshot']>;
export type LoginRequest = z.output<RequestSchemas['login']>;
export type PageRequest = ScreenshotRequest | DomRequest | SnapshotRequest | LoginRequest;
