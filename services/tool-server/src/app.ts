import { bodyLimit } from 'hono/body-limit';
import {
  AppError,
  Counter,
  createServiceApp,
  guardedRequest,
  Histogram,
  OpenAiUpstream,
  type CommonConfig,
  type Logger,
  type ServiceApp,
  type SsrfGuard,
  type TokenRegistry,
} from '@datamancy/core';
import type { ToolNet } from '@datamancy/plugin-sdk';
import type { AuditLog } from './audit/audit-log.ts';
import type { ToolServerConfig } from './config.ts';
import { registerAuditRoutes } from './http/audit-routes.ts';
import { registerChatProxy } from './http/chat-proxy.ts';
import { registerMcpRoute } from './http/mcp-route.ts';
import { createOpenApiDocument } from './http/openapi.ts';
import { createToolListing, registerToolRoutes } from './http/tool-routes.ts';
import { ToolDispatcher } from './runtime/dispatcher.ts';
import type { ToolCatalog } from './runtime/loader.ts';
import { TOOL_SERVER_VERSION } from './version.ts';

export interface ToolServerDeps {
  config: ToolServerConfig;
  llm: CommonConfig['llm'];
  logger: Logger;
  tokens: TokenRegistry;
  catalog: ToolCatalog;
  audit: AuditLog;
  guard: SsrfGuard;
}

export interface ToolServerApp {
  app: ServiceApp;
  dispatcher: ToolDispatcher;
}

export function createToolNet(guard: SsrfGuard): ToolNet {
  return {
    request: (url, options) => guardedRequest(guard, url, options),
    checkHost: (host) => guard.checkHost(host),
    lookup: guard.lookup,
  };
}

/** Builds the tool server's HTTP app. No I/O here: the caller opens the store and listens. */
export function createApp(deps: ToolServerDeps): ToolServerApp {
  const { app, metrics } = createServiceApp({
    service: 'tool-server',
    version: TOOL_SERVER_VERSION,
    logger: deps.logger,
    tokens: deps.tokens,
    health: () => ({ ok: true, tools: deps.catalog.tools.size }),
  });
  const dispatcher = new ToolDispatcher({
    catalog: deps.catalog,
    audit: deps.audit,
    logger: deps.logger,
    net: createToolNet(deps.guard),
    defaultTimeoutMs: deps.config.defaultTimeoutMs,
    maxOutputBytes: deps.config.maxOutputBytes,
    metrics: {
      calls: new Counter({
        name: 'tool_calls_total',
        help: 'Tool calls by tool and outcome.',
        labelNames: ['tool', 'outcome'] as const,
        registers: [metrics.registry],
      }),
      duration: new Histogram({
        name: 'tool_call_duration_seconds',
        help: 'Tool call duration by tool.',
        labelNames: ['tool'] as const,
        buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
        registers: [metrics.registry],
      }),
    },
  });

  const limit = bodyLimit({
    maxSize: deps.config.bodyLimitBytes,
    onError: () => {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `request body over ${deps.config.bodyLimitBytes} bytes`,
        {
          data: { limit: deps.config.bodyLimitBytes },
        },
      );
    },
  });
  app.use('/mcp', limit); // the MCP transport reads the web Request itself

  const listTools = createToolListing(dispatcher);
  const openapi = createOpenApiDocument(TOOL_SERVER_VERSION);
  app.get('/openapi.json', (c) => c.json(openapi));
  registerToolRoutes(app, dispatcher, listTools, deps.config.bodyLimitBytes);
  registerMcpRoute(app, dispatcher, listTools, TOOL_SERVER_VERSION);
  registerChatProxy(app, {
    dispatcher,
    listTools,
    maxSteps: deps.llm.maxSteps,
    bodyLimitBytes: deps.config.bodyLimitBytes,
    upstream:
      deps.llm.baseUrl === undefined
        ? undefined
        : new OpenAiUpstream({
            baseUrl: deps.llm.baseUrl,
            apiKey: deps.llm.apiKey,
            timeoutMs: deps.llm.timeoutMs,
          }),
  });
  registerAuditRoutes(app, deps.audit);
  return { app, dispatcher };
}
