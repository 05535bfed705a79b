import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { AppError, type Identity, type ServiceApp } from '@datamancy/core';
import type { ToolDispatcher } from '../runtime/dispatcher.ts';
import type { createToolListing } from './tool-routes.ts';

// Building a validator costs ~150 µs; one shared instance serves every per-request server.
const sharedValidator = new AjvJsonSchemaValidator();

function createMcpServer(
  dispatcher: ToolDispatcher,
  listTools: ReturnType<typeof createToolListing>,
  identity: Identity,
  requestId: string,
  version: string,
): Server {
  const server = new Server(
    { name: 'datamancy-tool-server', version },
    { capabilities: { tools: {} }, jsonSchemaValidator: sharedValidator },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: listTools(identity).map((t) => ({
      name: t.function.name,
      description: t.function.description,
      inputSchema: t.function.parameters as { type: 'object'; [k: string]: unknown },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    try {
      const { result } = await dispatcher.call({
        name: request.params.name,
        args: request.params.arguments ?? {},
        identity,
        requestId,
        channel: 'mcp',
        signal: extra.signal,
      });
      const structured = result !== null && typeof result === 'object' && !Array.isArray(result);
      return {
        content: [{ type: 'text' as const, text: JSON.stringify(result) }],
        ...(structured ? { structuredContent: result as Record<string, unknown> } : {}),
      };
    } catch (err) {
      if (err instanceof AppError && err.code === 'TOOL_NOT_FOUND') {
        throw new McpError(ErrorCode.InvalidParams, err.message);
      }
      const appError = err instanceof AppError ? err : new AppError('INTERNAL', 'internal error');
      return {
        isError: true,
        content: [
          {
            type: 'text' as const,
            text: JSON.stringify({
              error: { ...appError.data, code: appError.code, message: appError.message },
            }),
          },
        ],
      };
    }
  });
  return server;
}

/**
 * `/mcp`: Model Context Protocol over Streamable HTTP, stateless (a server per request), with
 * the caller's bearer identity bound into the handlers so the same capability checks apply.
 */
export function registerMcpRoute(
  app: ServiceApp,
  dispatcher: ToolDispatcher,
  listTools: ReturnType<typeof createToolListing>,
  version: string,
): void {
  app.post('/mcp', async (c) => {
    const server = createMcpServer(
      dispatcher,
      listTools,
      c.get('identity'),
      c.get('requestId'),
      version,
    );
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(c.req.raw);
    } finally {
      void server.close();
    }
  });
  const notAllowed = (): never => {
    throw new AppError(
      'METHOD_NOT_ALLOWED',
      'this MCP endpoint is stateless: POST JSON-RPC messages to /mcp',
    );
  };
  app.get('/mcp', notAllowed);
  app.delete('/mcp', notAllowed);
}
