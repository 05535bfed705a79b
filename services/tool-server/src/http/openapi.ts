/** The tool server's OpenAPI 3.1 document, served at `GET /openapi.json`. */

import { BEARER_SECURITY_SCHEMES, errorEnvelopeSchema, errorResponse } from '@datamancy/core';

export function createOpenApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Datamancy tool server (KFuncDB)',
      version,
      description:
        'Capability-gated tools for agents: OpenAI function-calling API, an MCP endpoint, and an OpenAI-compatible chat proxy that runs tool calls. Every route but /healthz needs `Authorization: Bearer <token>`.',
    },
    servers: [{ url: 'http://127.0.0.1:8081' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: BEARER_SECURITY_SCHEMES,
      schemas: {
        Error: errorEnvelopeSchema({
          code: 'INVALID_ARGUMENTS',
          issuePath: 'args.url',
          extra: {
            missing: {
              type: 'array',
              items: { type: 'string' },
              description: 'capabilities the caller lacks',
            },
          },
        }),
        FunctionTool: {
          type: 'object',
          required: ['type', 'function'],
          properties: {
            type: { const: 'function' },
            function: {
              type: 'object',
              required: ['name', 'description', 'parameters'],
              properties: {
                name: { type: 'string' },
                description: { type: 'string' },
                parameters: { type: 'object', description: 'JSON Schema of the arguments' },
              },
            },
          },
        },
        AuditEntry: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            ts: { type: 'string', format: 'date-time' },
            caller: { type: 'string' },
            channel: { enum: ['http', 'mcp', 'chat'] },
            tool: { type: 'string' },
            argsDigest: { type: 'string', description: 'sha256 of the canonical JSON arguments' },
            outcome: {
              enum: ['ok', 'error', 'denied', 'invalid', 'not_found', 'timeout', 'aborted'],
            },
            errorCode: { type: ['string', 'null'] },
            durationMs: { type: 'number' },
            requestId: { type: ['string', 'null'] },
          },
        },
      },
    },
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness; the only unauthenticated route',
          security: [],
          responses: { '200': { description: 'healthy' }, '503': { description: 'unhealthy' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: { '200': { description: 'text exposition format' } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/tools': {
        get: {
          summary: 'Tools the caller may call, in OpenAI function format',
          responses: {
            '200': {
              description: 'tool list',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      tools: {
                        type: 'array',
                        items: { $ref: '#/components/schemas/FunctionTool' },
                      },
                    },
                  },
                },
              },
            },
            '401': errorResponse('missing or unknown token'),
          },
        },
      },
      '/plugins': {
        get: {
          summary: 'Plugins: loaded, or skipped with the reason',
          responses: { '200': { description: 'plugin status list' } },
        },
      },
      '/call-tool': {
        post: {
          summary: 'Call one tool',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['name'],
                  properties: { name: { type: 'string' }, args: { type: 'object', default: {} } },
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'the tool result',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['result', 'elapsedMs'],
                    properties: { result: {}, elapsedMs: { type: 'number' } },
                  },
                },
              },
            },
            '400': errorResponse(
              'invalid body or arguments; `issues[].path` names the failing field (e.g. args.url)',
            ),
            '401': errorResponse('missing or unknown token'),
            '403': errorResponse(
              'CAPABILITY_DENIED (the token scope lacks a capability) or URL_REFUSED (SSRF guard)',
            ),
            '404': errorResponse('TOOL_NOT_FOUND'),
            '413': errorResponse('PAYLOAD_TOO_LARGE'),
            '415': errorResponse('body is not application/json'),
            '502': errorResponse('UPSTREAM_ERROR or TOOL_OUTPUT_TOO_LARGE'),
            '504': errorResponse('TOOL_TIMEOUT: the tool was aborted at its deadline'),
          },
        },
      },
      '/mcp': {
        post: {
          summary: 'Model Context Protocol, Streamable HTTP transport (stateless, JSON responses)',
          description:
            'JSON-RPC 2.0: initialize, tools/list, tools/call. Same tools and capability checks as /call-tool.',
          responses: {
            '200': { description: 'JSON-RPC response' },
            '202': { description: 'notification accepted' },
          },
        },
      },
      '/v1/chat/completions': {
        post: {
          summary: 'OpenAI-compatible chat proxy that runs tool calls',
          description:
            "Without `tools` in the request, the caller's allowed tools are offered and the model's tool calls are executed (up to MAX_STEPS rounds). With `stream: true` the answer streams as OpenAI SSE. Requests carrying their own `tools` are proxied unchanged.",
          responses: {
            '200': {
              description: 'chat.completion, or text/event-stream of chat.completion.chunk',
            },
            '400': errorResponse('invalid request'),
            '502': errorResponse('the LLM upstream failed (`upstream: true`)'),
            '503': errorResponse('no LLM upstream configured'),
            '504': errorResponse('the LLM upstream timed out'),
          },
        },
      },
      '/v1/models': {
        get: { summary: 'The upstream model list', responses: { '200': { description: 'list' } } },
      },
      '/audit': {
        get: {
          summary: 'Tool-call audit records, newest first (scope audit.read)',
          parameters: [
            { name: 'tool', in: 'query', schema: { type: 'string' } },
            { name: 'caller', in: 'query', schema: { type: 'string' } },
            { name: 'outcome', in: 'query', schema: { type: 'string' } },
            { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' } },
            { name: 'until', in: 'query', schema: { type: 'string', format: 'date-time' } },
            {
              name: 'before',
              in: 'query',
              schema: { type: 'integer' },
              description: 'page: ids below this',
            },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            },
          ],
          responses: {
            '200': {
              description: 'entries',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      entries: {
                        type: 'array',
                        items: { $ref: '#/components/schemas/AuditEntry' },
                      },
                      nextBefore: { type: ['integer', 'null'] },
                    },
                  },
                },
              },
            },
            '400': errorResponse('invalid query parameter, named in issues[].path'),
            '403': errorResponse('the token lacks audit.read'),
          },
        },
      },
    },
  };
}
