import { z } from 'zod';
import { BEARER_SECURITY_SCHEMES, errorEnvelopeSchema, errorResponse } from '@datamancy/core';
import { AdHocSchema, HistoryQuery, MaintenanceSchema, StackProbeSchema } from './api.ts';
import { AnalyzeSchema, ExecuteSchema, IncidentQuery, RejectSchema } from './heal-api.ts';
import { SESSION_COOKIE } from './session.ts';
import { EndSessionsQuery } from './sessions-api.ts';

/**
 * The probe's OpenAPI 3.1 document, served at `GET /openapi.json`. Request bodies come from
 * the zod schemas the handlers use.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const ok = (description: string, schema: unknown) => ({ description, content: json(schema) });

function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete out.$schema;
  return out;
}

const STATES = ['pending', 'up', 'degraded', 'down', 'blocked', 'maintenance'];
const OUTCOMES = ['pass', 'pass_after_retry', 'degraded', 'fail'];

const checkResult = {
  type: 'object',
  required: ['service', 'check', 'kind', 'status', 'attempts', 'latencyMs', 'message', 'evidence'],
  properties: {
    service: { type: 'string' },
    check: { type: 'string' },
    kind: { enum: ['http', 'tcp', 'browser', 'container', 'ai'] },
    critical: { type: 'boolean' },
    status: {
      enum: ['pass', 'degraded', 'fail', 'unknown'],
      description: 'unknown: the probe could not check (e.g. browser service down)',
    },
    attempts: { type: 'integer', description: '1 unless retried' },
    latencyMs: { type: 'number' },
    startedAt: { type: 'integer', description: 'epoch ms' },
    message: { type: 'string' },
    evidence: {
      type: 'object',
      description:
        'reasons, HTTP status, title, text/OCR excerpts, error signatures, certificate, container state, screenshot file (`proof`, served at /proofs/{file})',
      properties: {
        reasons: { type: 'array', items: { type: 'string' } },
        proof: { type: 'string' },
      },
      additionalProperties: true,
    },
  },
};

const serviceView = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    state: { enum: STATES },
    since: { type: 'integer' },
    blockedBy: { type: ['string', 'null'], description: 'the down dependency at the root' },
    flapping: { type: 'boolean' },
    inMaintenance: { type: 'boolean' },
    lastRoundAt: { type: ['integer', 'null'] },
    lastOutcome: { enum: [...OUTCOMES, null] },
    intervalS: { type: 'integer' },
    dependsOn: { type: 'array', items: { type: 'string' } },
    checks: { type: 'array', items: ref('CheckResult') },
  },
};

const summary = {
  type: 'object',
  required: ['total', 'healthy', 'degraded', 'failed'],
  properties: Object.fromEntries(
    ['total', 'healthy', 'degraded', 'failed', 'blocked', 'maintenance', 'pending'].map((k) => [
      k,
      { type: 'integer' },
    ]),
  ),
};

export function createOpenApiDocument(version: string): Record<string, unknown> {
  const described: Record<string, string> = {
    '400': 'invalid input; `issues` names each failing field',
    '401': 'no or unknown token',
    '403':
      'a scope is missing (probe.read to read, admin to act, a person holding admin to decide), or a session or SSO identity sent a cross-site request',
    '404': 'no such service, report, window or proof',
    '413': 'body too large',
    '415': 'send application/json',
  };
  const withErrors = (responses: Record<string, unknown>, codes: string[]) => ({
    ...responses,
    ...Object.fromEntries(codes.map((code) => [code, errorResponse(described[code] ?? code)])),
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Datamancy probe',
      version,
      description:
        'Continuous, evidence-based monitoring of every service of the stack: checks (http, tcp, browser, container, ai), a per-service state machine with dependency blocking and maintenance windows, history, and a dashboard at `/`. Every route but /healthz, /login and /logout needs `Authorization: Bearer <token>`, a dashboard session (cookie) or SSO headers from the trusted proxy. Reading needs the probe.read scope; starting probes, maintenance and sessions need admin; approving, rejecting and running fixes need admin held by a person (never a service token). A session or SSO identity may change things only from same-origin pages: a POST, PUT, PATCH or DELETE whose Sec-Fetch-Site is not same-origin/none, or (without it) whose Origin is not this host, is 403.',
    },
    security: [{ bearer: [] }, { session: [] }],
    components: {
      securitySchemes: {
        ...BEARER_SECURITY_SCHEMES,
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description:
            'Set by POST /login; a random id of a server-side session, re-checked against its token on every request',
        },
      },
      schemas: {
        Error: errorEnvelopeSchema({ code: 'BAD_REQUEST', issuePath: 'services[0]' }),
        CheckResult: checkResult,
        ServiceView: serviceView,
        Summary: summary,
        Incident: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            service: { type: 'string' },
            status: { enum: ['open', 'resolved'] },
            stage: {
              enum: [
                'diagnosing',
                'awaiting_approval',
                'acting',
                'verifying',
                'escalated',
                'resolved',
              ],
            },
            fingerprint: { type: 'string' },
            signature: { type: 'string' },
            openedAt: { type: 'integer' },
            resolvedAt: { type: ['integer', 'null'] },
            resolution: { type: ['string', 'null'] },
            dependents: { type: 'array', items: { type: 'string' } },
            findings: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  summary: { type: 'string' },
                  confidence: { type: 'number' },
                  evidence: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
        Proposal: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            incidentId: { type: 'integer' },
            service: { type: 'string' },
            action: { type: 'string' },
            parameters: { type: 'object' },
            confidence: { type: 'number' },
            safety: { enum: ['safe', 'needs_review', 'forbidden'] },
            reasoning: { type: 'string' },
            preview: { description: "the tool's dry-run answer" },
            status: { type: 'string' },
            decision: { type: 'string', description: 'why policy decided as it did' },
            decidedBy: { type: ['string', 'null'] },
            expiresAt: { type: ['integer', 'null'] },
          },
        },
      },
    },
    paths: {
      '/healthz': {
        get: { summary: 'Liveness', security: [], responses: { '200': { description: 'ok' } } },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (per-service up/state, latency, check counts)',
          responses: { '200': { description: 'text format' } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/services': {
        get: {
          summary: 'Every service: state, last results, summary',
          responses: withErrors(
            {
              '200': ok('services', {
                type: 'object',
                properties: {
                  summary: ref('Summary'),
                  services: { type: 'array', items: ref('ServiceView') },
                },
              }),
            },
            ['401', '403'],
          ),
        },
      },
      '/services/{name}': {
        get: {
          summary:
            'One service: state, latest result of each check with evidence, recent transitions and rounds',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: withErrors(
            {
              '200': ok('service', {
                type: 'object',
                properties: {
                  service: ref('ServiceView'),
                  transitions: { type: 'array' },
                  rounds: { type: 'array' },
                },
              }),
            },
            ['401', '403', '404'],
          ),
        },
      },
      '/services/{name}/history': {
        get: {
          summary: 'Raw results (newest first, paged by `before`) and hourly rollups',
          parameters: [
            { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
            ...Object.entries(
              (schemaOf(HistoryQuery).properties ?? {}) as Record<string, unknown>,
            ).map(([name, schema]) => ({ name, in: 'query', schema })),
          ],
          responses: withErrors(
            {
              '200': ok('history', {
                type: 'object',
                properties: {
                  results: { type: 'array', items: ref('CheckResult') },
                  nextBefore: { type: ['integer', 'null'] },
                  rollups: { type: 'array' },
                },
              }),
            },
            ['400', '401', '403', '404'],
          ),
        },
      },
      '/services/{name}/probe': {
        post: {
          summary: 'Run one round of the service now (admin)',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: withErrors({ '200': ok('the round', ref('ServiceView')) }, [
            '401',
            '403',
            '404',
          ]),
        },
      },
      '/start-stack-probe': {
        post: {
          summary: 'Probe every service (or the named ones) now and store a report (admin)',
          requestBody: { required: false, content: json(schemaOf(StackProbeSchema)) },
          responses: withErrors(
            {
              '200': ok('report', {
                type: 'object',
                required: ['summary', 'services'],
                properties: {
                  id: { type: 'string' },
                  summary: ref('Summary'),
                  services: { type: 'array', items: ref('ServiceView') },
                },
              }),
            },
            ['400', '401', '403', '413', '415'],
          ),
        },
      },
      '/start-probe': {
        post: {
          summary:
            'Probe arbitrary URLs once (HTTP, optionally a browser check); URLs pass the SSRF guard (admin)',
          requestBody: { required: true, content: json(schemaOf(AdHocSchema)) },
          responses: withErrors(
            {
              '200': ok('report', {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  summary: ref('Summary'),
                  services: { type: 'array' },
                },
              }),
            },
            ['400', '401', '403', '413', '415'],
          ),
        },
      },
      '/reports/{id}': {
        get: {
          summary: 'A stored report of `/start-stack-probe` or `/start-probe`',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
          ],
          responses: withErrors({ '200': { description: 'the report' } }, ['401', '403', '404']),
        },
      },
      '/maintenance': {
        get: {
          summary: 'Maintenance windows that have not ended',
          responses: withErrors({ '200': { description: 'windows' } }, ['401', '403']),
        },
        post: {
          summary: 'Open a maintenance window for a service or `*` (admin): monitored, not alerted',
          requestBody: { required: true, content: json(schemaOf(MaintenanceSchema)) },
          responses: withErrors({ '201': { description: 'the window' } }, [
            '400',
            '401',
            '403',
            '413',
            '415',
          ]),
        },
      },
      '/maintenance/{id}': {
        delete: {
          summary: 'Close a maintenance window (admin)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: withErrors({ '204': { description: 'deleted' } }, ['401', '403', '404']),
        },
      },
      '/proofs/{file}': {
        get: {
          summary: 'A screenshot kept as evidence (content-addressed `<sha256>.png`)',
          parameters: [
            {
              name: 'file',
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: '^[0-9a-f]{64}\\.png$' },
            },
          ],
          responses: withErrors({ '200': { description: 'PNG', content: { 'image/png': {} } } }, [
            '401',
            '403',
            '404',
          ]),
        },
      },
      '/incidents': {
        get: {
          summary: 'Incidents, newest first (paged by `before`)',
          parameters: Object.entries(
            (schemaOf(IncidentQuery).properties ?? {}) as Record<string, unknown>,
          ).map(([name, schema]) => ({ name, in: 'query', schema })),
          responses: withErrors(
            {
              '200': ok('incidents', {
                type: 'object',
                properties: {
                  incidents: { type: 'array', items: ref('Incident') },
                  nextBefore: { type: ['integer', 'null'] },
                },
              }),
            },
            ['400', '401', '403'],
          ),
        },
      },
      '/incidents/{id}': {
        get: {
          summary:
            'One incident: findings, timeline with evidence, proposals (with dry-run previews), actions (before/after)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: withErrors(
            {
              '200': ok('incident', {
                type: 'object',
                properties: {
                  incident: ref('Incident'),
                  timeline: { type: 'array' },
                  proposals: { type: 'array', items: ref('Proposal') },
                  actions: { type: 'array' },
                },
              }),
            },
            ['401', '403', '404'],
          ),
        },
      },
      '/analyze-and-propose-fixes': {
        post: {
          summary:
            'Probe and diagnose a service now; opens an incident when it fails and proposes fixes, which policy runs or queues for approval (admin)',
          requestBody: { required: true, content: json(schemaOf(AnalyzeSchema)) },
          responses: withErrors(
            {
              '200': ok('diagnosis', {
                type: 'object',
                properties: {
                  incident: ref('Incident'),
                  findings: { type: 'array' },
                  proposals: { type: 'array', items: ref('Proposal') },
                },
              }),
            },
            ['400', '401', '403', '415'],
          ),
        },
      },
      '/execute-fix': {
        post: {
          summary:
            'Run a proposal by id: one a person approved, or a safe one the policy allows now (a person holding admin); anything else is 409',
          requestBody: { required: true, content: json(schemaOf(ExecuteSchema)) },
          responses: withErrors(
            {
              '200': ok('the proposal after running and verification', {
                type: 'object',
                properties: { proposal: ref('Proposal') },
              }),
            },
            ['400', '401', '403', '404', '409'],
          ),
        },
      },
      '/approvals': {
        get: {
          summary: 'Proposals waiting for a person (expired ones lapse first)',
          responses: withErrors(
            {
              '200': ok('approvals', {
                type: 'object',
                properties: { approvals: { type: 'array', items: ref('Proposal') } },
              }),
            },
            ['401', '403'],
          ),
        },
      },
      '/approvals/{id}/approve': {
        post: {
          summary:
            'Approve as yourself (a person holding admin: the admin token, a dashboard session of a person token, an SSO admin; never a service token; recorded with who and when); the fix runs and is verified before the answer',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: withErrors(
            {
              '200': ok('the proposal', {
                type: 'object',
                properties: { proposal: ref('Proposal') },
              }),
            },
            ['401', '403', '404', '409'],
          ),
        },
      },
      '/approvals/{id}/reject': {
        post: {
          summary:
            'Reject with a reason (a person holding admin); the incident stays open for a person',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          requestBody: { required: true, content: json(schemaOf(RejectSchema)) },
          responses: withErrors(
            {
              '200': ok('the proposal', {
                type: 'object',
                properties: { proposal: ref('Proposal') },
              }),
            },
            ['400', '401', '403', '404', '409'],
          ),
        },
      },
      '/patterns': {
        get: {
          summary:
            'Failure patterns: per fingerprint and action, approved verified successes, failures, whether it runs unattended',
          responses: withErrors({ '200': { description: 'patterns' } }, ['401', '403']),
        },
      },
      '/sessions': {
        get: {
          summary: 'Live dashboard sessions: token name, created, expires, last used (admin)',
          responses: withErrors(
            {
              '200': ok('sessions', {
                type: 'object',
                properties: {
                  sessions: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        tokenName: { type: 'string' },
                        createdAt: { type: 'integer' },
                        expiresAt: { type: 'integer' },
                        lastUsedAt: { type: 'integer' },
                      },
                    },
                  },
                },
              }),
            },
            ['401', '403'],
          ),
        },
        delete: {
          summary:
            'End every dashboard session of a token (`?token=<name>`) or all of them (`?token=*`) (a person holding admin)',
          parameters: [
            {
              name: 'token',
              in: 'query',
              required: true,
              schema: (schemaOf(EndSessionsQuery).properties as Record<string, unknown>).token,
            },
          ],
          responses: withErrors(
            {
              '200': ok('how many ended', {
                type: 'object',
                properties: { ended: { type: 'integer' } },
              }),
            },
            ['400', '401', '403'],
          ),
        },
      },
      '/ui/incidents': {
        get: {
          summary:
            'Dashboard: approvals (approve/reject forms for persons holding admin) and incidents',
          responses: { '200': { description: 'HTML' } },
        },
      },
      '/ui/incidents/{id}': {
        get: {
          summary: 'Dashboard page of one incident: findings, proposals, actions, timeline',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: { '200': { description: 'HTML' } },
        },
      },
      '/ui/approvals/{id}/approve': {
        post: {
          summary: 'Dashboard form: approve (a person holding admin; same-origin only)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: withErrors({ '303': { description: 'to the incident' } }, [
            '401',
            '403',
            '404',
            '409',
          ]),
        },
      },
      '/ui/approvals/{id}/reject': {
        post: {
          summary:
            'Dashboard form: reject, form field `reason` (a person holding admin; same-origin only)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: withErrors({ '303': { description: 'to the incident' } }, [
            '401',
            '403',
            '404',
            '409',
          ]),
        },
      },
      '/ui/services/{name}/probe': {
        post: {
          summary: 'Dashboard form: probe a service now (admin; same-origin only)',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: withErrors({ '303': { description: 'to the service page' } }, [
            '401',
            '403',
            '404',
          ]),
        },
      },
      '/ui/dashboard.css': {
        get: {
          summary: "The dashboard's stylesheet",
          security: [],
          responses: { '200': { description: 'CSS', content: { 'text/css': {} } } },
        },
      },
      '/': {
        get: {
          summary: 'Dashboard (HTML); browsers without a session are sent to /login',
          responses: { '200': { description: 'HTML' } },
        },
      },
      '/ui/services/{name}': {
        get: {
          summary: "Dashboard page of one service: each check's evidence, state history",
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'HTML' } },
        },
      },
      '/login': {
        get: {
          summary: 'Dashboard login form',
          security: [],
          responses: { '200': { description: 'HTML' } },
        },
        post: {
          summary:
            'Log in with a token (form field `token`): makes a server-side session and sets its HttpOnly, SameSite=Strict cookie (Secure over HTTPS); refused cross-site (login CSRF)',
          security: [],
          responses: {
            '303': { description: 'to the dashboard' },
            '401': { description: 'bad token' },
            '403': errorResponse('a cross-site form post'),
          },
        },
      },
      '/logout': {
        post: {
          summary: 'End this session (deleted from the store) and clear its cookie',
          security: [],
          responses: {
            '303': { description: 'to /login' },
            '403': errorResponse('a cross-site form post'),
          },
        },
      },
    },
  };
}
