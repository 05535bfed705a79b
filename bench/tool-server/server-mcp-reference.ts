/**
 * Child process: the MCP TypeScript SDK's reference Streamable HTTP server, built as the SDK's
 * stateless example (`src/examples/server/simpleStatelessStreamableHttp.ts`, linked from its
 * README): `createMcpExpressApp()` (express + localhost Host check + `express.json()`), and per
 * POST a new `McpServer` and `StreamableHTTPServerTransport`, closed when the response closes.
 * Differences, both in its favour or neutral: `enableJsonResponse: true` (we answer JSON too) and
 * no `console.log` per request. It serves the same `hash_sha256` schema and handler as ours.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { announce, exitWithParent } from './child-io.ts';
import { benchTool, standaloneContext } from './tool.ts';

// The few express members used here; @types/express is not installed.
interface ExpressRequest extends IncomingMessage {
  body: unknown;
}
interface ExpressResponse extends ServerResponse {
  status(code: number): ExpressResponse;
  json(body: unknown): ExpressResponse;
}
type Handler = (req: ExpressRequest, res: ExpressResponse) => Promise<void> | void;
interface ExpressApp {
  post(path: string, handler: Handler): void;
  get(path: string, handler: Handler): void;
  delete(path: string, handler: Handler): void;
  listen(port: number, host: string, callback: (error?: Error) => void): Server;
}

const tool = benchTool();
const ctx = standaloneContext();

const getServer = (): McpServer => {
  const server = new McpServer({ name: 'stateless-streamable-http-server', version: '1.0.0' });
  server.registerTool(
    tool.name,
    { description: tool.description, inputSchema: tool.input },
    async (args) => {
      const result = (await tool.handler(ctx, args)) as Record<string, unknown>;
      return {
        content: [{ type: 'text', text: JSON.stringify(result) }],
        structuredContent: result,
      };
    },
  );
  return server;
};

const app = createMcpExpressApp() as ExpressApp;

app.post('/mcp', async (req, res) => {
  const server = getServer();
  try {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
  } catch (error) {
    process.stderr.write(`Error handling MCP request: ${String(error)}\n`);
    if (!res.headersSent) {
      res.status(500).json({
        jsonrpc: '2.0',
        error: { code: -32603, message: 'Internal server error' },
        id: null,
      });
    }
  }
});

const methodNotAllowed: Handler = (_req, res) => {
  res.writeHead(405).end(
    JSON.stringify({
      jsonrpc: '2.0',
      error: { code: -32000, message: 'Method not allowed.' },
      id: null,
    }),
  );
};
app.get('/mcp', methodNotAllowed);
app.delete('/mcp', methodNotAllowed);

const httpServer = app.listen(0, '127.0.0.1', (error) => {
  if (error !== undefined) {
    process.stderr.write(`Failed to start server: ${error.message}\n`);
    process.exit(1);
  }
  const address = httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  announce(`http://127.0.0.1:${address.port}`);
});
exitWithParent(
  () =>
    new Promise<void>((resolve) => {
      httpServer.close(() => resolve());
      httpServer.closeAllConnections();
    }),
);
