import { z } from 'zod';
import { BEARER_SECURITY_SCHEMES, errorEnvelopeSchema, errorResponse } from '@datamancy/core';
import { BrowserConfigSchema } from '../config.ts';
import { createRequestSchemas } from './schemas.ts';

/**
 * The browser service's OpenAPI 3.1 document, served at `GET /openapi.json`. Request bodies are
 * generated from the zod schemas with the default configuration's limits, so the document does
 * not drift from what the handlers accept.
 */

const int = { type: 'integer' } as const;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const error = errorResponse;
const failure = (description: string) => ({ description, content: json(ref('PageFailure')) });
/** The scope a route needs, as OpenAPI 3.1 role names on the bearer scheme. */
const scope = (name: string) => [{ bearer: [name] }];
const forbidden = (name: string) =>
  error(`FORBIDDEN: the token lacks \`${name}\` (\`missing\` names it)`);

function bodySchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete out.$schema;
  return out;
}

const pageResult = {
  type: 'object',
  required: ['ok', 'status', 'finalUrl', 'title', 'timing'],
  properties: {
    ok: { const: true },
    status: { type: 'integer', description: 'HTTP status of the page (below 400)' },
    finalUrl: { type: 'string' },
    title: { type: 'string' },
    timing: {
      type: 'object',
      properties: {
        queuedMs: { type: 'integer' },
        navigationMs: { type: 'integer' },
        totalMs: { type: 'integer', description: 'from arrival, queue included' },
      },
    },
    blockedCount: { type: 'integer', description: 'requests of the page the SSRF guard refused' },
    blockedRequests: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          url: { type: 'string' },
          reason: { type: 'string' },
          by: { enum: ['route', 'proxy'] },
          navigation: { type: 'boolean' },
        },
      },
    },
  },
};

const withPage = (properties: Record<string, unknown>) => ({
  allOf: [ref('PageResult'), { type: 'object', properties }],
});

const failures = {
  '400': error('invalid body; `issues[].path` names the failing field'),
  '401': error('missing or unknown token'),
  '403': {
    description:
      'FORBIDDEN: the token lacks `browser.use` (`missing` names it; no page was opened), or URL_REFUSED: the SSRF guard refused the URL or a redirect hop',
    content: json({ oneOf: [ref('PageFailure'), ref('Error')] }),
  },
  '413': error('PAYLOAD_TOO_LARGE'),
  '415': error('body is not application/json'),
  '429': error('RATE_LIMITED: the queue is full; see Retry-After'),
  '502': failure('UPSTREAM_ERROR: HTTP status ≥ 400, network failure, or selector missing'),
  '503': error('UNAVAILABLE: Chromium is not running (Retry-After)'),
  '504': failure('UPSTREAM_TIMEOUT: the page was not loaded or captured within timeoutMs'),
};

export function createOpenApiDocument(version: string): Record<string, unknown> {
  const schemas = createRequestSchemas(BrowserConfigSchema.parse({}));
  const post = (
    summary: string,
    request: z.ZodType,
    ok: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) => ({
    post: {
      summary,
      requestBody: { required: true, content: json(bodySchema(request)) },
      responses: { '200': { description: 'the page, loaded and captured', ...ok }, ...failures },
      ...extra,
    },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Datamancy browser service',
      version,
      description:
        'Headless Chromium over HTTP: screenshots, DOM and visible text, accessibility snapshots, form login. Every page job gets a fresh browser context; every URL, redirect and sub-resource passes the SSRF guard. A page that fails (HTTP ≥ 400, network error, timeout) is an error response with `ok: false`, never a healthy result. Every route but /healthz needs `Authorization: Bearer <token>` with the `browser.use` scope (or `admin`); /metrics needs `metrics.read` instead. A token without it gets 403 before any page opens.',
    },
    servers: [{ url: 'http://127.0.0.1:3000' }],
    security: scope('browser.use'),
    components: {
      securitySchemes: BEARER_SECURITY_SCHEMES,
      schemas: {
        Error: errorEnvelopeSchema({ code: 'BAD_REQUEST', issuePath: 'viewport.width' }),
        PageFailure: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'ok', 'failure', 'status', 'finalUrl'],
              properties: {
                code: { enum: ['UPSTREAM_ERROR', 'UPSTREAM_TIMEOUT', 'URL_REFUSED'] },
                message: { type: 'string' },
                ok: { const: false },
                failure: {
                  enum: ['http-status', 'network', 'timeout', 'refused', 'selector-missing'],
                },
                status: {
                  type: ['integer', 'null'],
                  description: 'HTTP status of the page, null when none arrived',
                },
                finalUrl: { type: 'string' },
                netError: { type: 'string', examples: ['ECONNREFUSED', 'ERR_NAME_NOT_RESOLVED'] },
                reason: { type: 'string', description: 'SSRF refusal reason' },
                blockedUrl: { type: 'string' },
                title: {
                  type: 'string',
                  description: 'title of the error page, when one rendered',
                },
                image: {
                  type: 'string',
                  description: 'base64 PNG of the error page (screenshot, login)',
                },
                timing: { type: 'object' },
                requestId: { type: 'string' },
              },
            },
          },
        },
        PageResult: pageResult,
      },
    },
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness; `browserConnected` says whether Chromium is up (503 when not)',
          security: [],
          responses: { '200': { description: 'healthy' }, '503': { description: 'no browser' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (scope metrics.read)',
          security: scope('metrics.read'),
          responses: {
            '200': { description: 'text format' },
            '401': error('missing or unknown token'),
            '403': forbidden('metrics.read'),
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          responses: {
            '200': { description: 'OpenAPI 3.1' },
            '401': error('missing or unknown token'),
            '403': forbidden('browser.use'),
          },
        },
      },
      '/pressure': {
        get: {
          summary: 'Load: slots in use, queue, browser state, job counters',
          responses: {
            '200': {
              description: 'pressure',
              content: json({
                type: 'object',
                properties: {
                  running: int,
                  queued: int,
                  maxConcurrency: int,
                  maxQueue: int,
                  browserConnected: { type: 'boolean' },
                  openContexts: int,
                  relaunches: int,
                  served: { ...int, description: 'page jobs that ended healthy' },
                  failed: { ...int, description: 'page jobs that ended in a failure' },
                  rejected: { ...int, description: '429s' },
                  refused: { ...int, description: 'URLs refused before any page opened' },
                },
              }),
            },
            '401': error('missing or unknown token'),
            '403': forbidden('browser.use'),
          },
        },
      },
      '/screenshot': post(
        'PNG screenshot of a page (or of one element)',
        schemas.screenshot,
        {
          content: {
            ...json(
              withPage({
                image: { type: 'string', description: 'base64 PNG' },
                imageBytes: { type: 'integer' },
                fullPage: { type: 'boolean' },
                viewport: { type: 'object' },
                proofPath: { type: 'string', description: 'set when proofsDir is configured' },
                text: { type: 'string', description: 'visible text (with includeText)' },
                textChars: { type: 'integer' },
                textTruncated: { type: 'boolean' },
                loginForm: {
                  type: ['string', 'null'],
                  enum: ['authelia', 'generic', null],
                  description: 'a visible login form (with includeText)',
                },
              }),
            ),
            'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
          },
        },
        {
          description:
            'With `Accept: image/png` a healthy page answers with the bare PNG (headers x-page-status, x-final-url, x-total-ms); failures are JSON errors either way.',
        },
      ),
      '/dom': post(
        'Rendered HTML and visible text (innerText), each within maxChars',
        schemas.dom,
        {
          content: json(
            withPage({
              html: { type: 'string' },
              text: { type: 'string' },
              htmlChars: { type: 'integer', description: 'length before cutting' },
              textChars: { type: 'integer' },
              htmlTruncated: { type: 'boolean' },
              textTruncated: { type: 'boolean' },
              maxChars: { type: 'integer' },
            }),
          ),
        },
      ),
      '/snapshot': post(
        'Accessibility tree as compact indented text (ARIA snapshot), within maxChars',
        schemas.snapshot,
        {
          content: json(
            withPage({
              format: { const: 'aria-yaml' },
              snapshot: {
                type: 'string',
                examples: ['- heading "Sign in" [level=1]\n- button "Go"'],
              },
              chars: { type: 'integer' },
              truncated: { type: 'boolean' },
              maxChars: { type: 'integer' },
            }),
          ),
        },
      ),
      '/login': post('Fill and submit a login form (Authelia by default)', schemas.login, {
        content: json(
          withPage({
            loginFormDetected: { type: 'boolean' },
            loginSucceeded: { type: 'boolean' },
            form: { enum: ['authelia', 'custom', 'generic', null] },
            signals: { type: 'object' },
            image: { type: 'string', description: 'base64 PNG after the attempt' },
            proofPath: { type: 'string' },
          }),
        ),
      }),
    },
  };
}
