/** Building blocks every service's OpenAPI document shares: bearer auth and the error envelope. */

export const BEARER_SECURITY_SCHEMES = { bearer: { type: 'http', scheme: 'bearer' } } as const;

/** The `Error` schema: `{"error": {"code", "message", "requestId", "issues"?, ...}}`. */
export function errorEnvelopeSchema(examples: {
  code: string;
  issuePath: string;
  /** Service-specific fields of the envelope. */
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', examples: [examples.code] },
          message: { type: 'string' },
          requestId: { type: 'string' },
          issues: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                path: { type: 'string', examples: [examples.issuePath] },
                message: { type: 'string' },
              },
            },
          },
          ...examples.extra,
        },
        additionalProperties: true,
      },
    },
  };
}

/** A response whose body is the error envelope. */
export function errorResponse(description: string): Record<string, unknown> {
  return {
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
}
