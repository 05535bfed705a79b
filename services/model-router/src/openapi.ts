import { BEARER_SECURITY_SCHEMES } from '@datamancy/core';

/**
 * The model router's OpenAPI 3.1 document, served at `GET /openapi.json` and committed as
 * docs/api/model-router.openapi.json (a test keeps them equal). The proxied bodies are
 * OpenAI's own; the router reads `model` and `stream` and passes the rest through.
 */

const openAiError = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'code', 'source'],
      properties: {
        message: { type: 'string' },
        type: {
          enum: [
            'invalid_request_error',
            'authentication_error',
            'permission_error',
            'router_error',
            'upstream_error',
          ],
        },
        code: {
          type: 'string',
          examples: [
            'missing_scope',
            'model_not_found',
            'model_cannot_fit',
            'queue_full',
            'load_failed',
            'load_timeout',
            'cooling_down',
            'upstream_unreachable',
            'upstream_timeout',
            'upstream_broken',
          ],
        },
        param: { type: ['string', 'null'] },
        source: {
          enum: ['router', 'upstream'],
          description: 'who failed; also in the x-datamancy-error-source header',
        },
        missing: {
          type: 'array',
          items: { type: 'string' },
          description: 'with a 403: the scopes the token lacks',
          examples: [['models.use']],
        },
      },
    },
  },
};

const err = (description: string) => ({
  description,
  headers: { 'x-datamancy-error-source': { schema: { enum: ['router', 'upstream'] } } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/OpenAiError' } } },
});

/** The scope a route needs, as OpenAPI 3.1 role names on the bearer scheme. */
const scope = (name: string) => [{ bearer: [name] }];
const forbidden = (name: string) =>
  err(`\`permission_error\`: the token lacks \`${name}\` (\`missing\` names it); nothing was run`);

const proxied = (summary: string, example: Record<string, unknown>) => ({
  post: {
    summary,
    description:
      'OpenAI-compatible; the model is made resident first (queued while it loads). With `stream: true` the answer is Server-Sent Events passed through chunk by chunk; a backend failing mid-stream ends it with a `data: {"error": …}` event and `data: [DONE]`. A client that disconnects cancels the upstream request.',
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['model'],
            properties: {
              model: { type: 'string', description: 'a configured name or alias' },
              stream: { type: 'boolean' },
            },
            additionalProperties: true,
          },
          example,
        },
      },
    },
    responses: {
      '200': { description: "the backend's answer (JSON, or text/event-stream when streaming)" },
      '400': err('bad body, or a model that can never fit its device (`model_cannot_fit`)'),
      '401': err('missing or unknown token'),
      '403': forbidden('models.use'),
      '404': err('no such model'),
      '413': err('body over `maxBodyBytes`'),
      '429': err("the model's queue or the router's is full; see Retry-After"),
      '502': err('the model failed to load, or the backend is unreachable'),
      '503': err(
        'the model failed to load recently (cooling down) or the router is stopping; see Retry-After',
      ),
      '504': err('the model did not load in time, or the backend stopped answering'),
    },
  },
});

export function createOpenApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Datamancy model router',
      version,
      description:
        "Keeps the right models resident in limited GPU memory in front of vLLM and other OpenAI-compatible servers. `/v1/*`, `/openapi.json` and `/health?deep=1` need a bearer token with the `models.use` scope (or `admin`), `/metrics` needs `metrics.read`; `/health` and `/healthz` are public. Every error, the service routes' included, is OpenAI-shaped.",
    },
    security: scope('models.use'),
    paths: {
      '/v1/chat/completions': proxied('Chat completion', {
        model: 'chat',
        messages: [{ role: 'user', content: 'Hello' }],
        stream: true,
      }),
      '/v1/completions': proxied('Text completion', {
        model: 'chat',
        prompt: 'Hello',
        max_tokens: 16,
      }),
      '/v1/embeddings': proxied('Embeddings', { model: 'embed', input: ['Hello'] }),
      '/v1/models': {
        get: {
          summary: 'The configured models with their state',
          responses: {
            '200': {
              description:
                'OpenAI model list, each with state (resident, loading, sleeping, unloaded, unloading), aliases, device, memory, pinned, in_flight, queued, loads, evictions, last_error',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      object: { const: 'list' },
                      data: { type: 'array', items: { type: 'object' } },
                    },
                  },
                },
              },
            },
            '401': err('missing or unknown token'),
            '403': forbidden('models.use'),
          },
        },
      },
      '/health': {
        get: {
          summary:
            'Router health (public); `?deep=1` (needs a token with `models.use`) asks a resident model for one token',
          security: [],
          parameters: [{ name: 'deep', in: 'query', schema: { enum: ['0', '1'] } }],
          responses: {
            '200': { description: '`{ok, models: [{name, state}], deep?: {model, ms}}`' },
            '401': err('deep check without a token'),
            '403': forbidden('models.use'),
            '503': { description: 'deep check failed, or no resident model to ask' },
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness (public)',
          security: [],
          responses: { '200': { description: 'ok' } },
        },
      },
      '/metrics': {
        get: {
          summary:
            'Prometheus metrics (scope metrics.read): router_model_loads_total, router_model_evictions_total, router_model_load_seconds, router_queue_depth, router_request_seconds, router_queue_wait_seconds, and the HTTP families',
          security: scope('metrics.read'),
          responses: {
            '200': { description: 'text exposition format' },
            '401': err('missing or unknown token'),
            '403': forbidden('metrics.read'),
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          responses: {
            '200': { description: 'OpenAPI 3.1' },
            '401': err('missing or unknown token'),
            '403': forbidden('models.use'),
          },
        },
      },
    },
    components: { securitySchemes: BEARER_SECURITY_SCHEMES, schemas: { OpenAiError: openAiError } },
  };
}
