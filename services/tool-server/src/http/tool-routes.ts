import { z } from 'zod';
import {
  readJson,
  requestSignal,
  toValidationIssues,
  validationError,
  type ServiceApp,
} from '@datamancy/core';
import { toolInputJsonSchema } from '@datamancy/plugin-sdk';
import { callableBy, type ToolDispatcher } from '../runtime/dispatcher.ts';

export const CallToolBodySchema = z.object({
  name: z.string().min(1).max(128),
  args: z.record(z.string(), z.unknown()).default({}),
});

export interface OpenAiFunctionTool {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** Tools in OpenAI function format, JSON Schemas computed once per tool. */
export function createToolListing(dispatcher: ToolDispatcher) {
  const cache = new Map<string, OpenAiFunctionTool>();
  for (const [name, loaded] of dispatcher.catalog.tools) {
    cache.set(name, {
      type: 'function',
      function: {
        name,
        description: loaded.tool.description,
        parameters: toolInputJsonSchema(loaded.tool),
      },
    });
  }
  return (identity: Parameters<typeof callableBy>[1]): OpenAiFunctionTool[] =>
    callableBy(dispatcher.catalog, identity).map(
      (t) => cache.get(t.tool.name) as OpenAiFunctionTool,
    );
}

export function registerToolRoutes(
  app: ServiceApp,
  dispatcher: ToolDispatcher,
  listTools: ReturnType<typeof createToolListing>,
  bodyLimitBytes: number,
): void {
  app.get('/tools', (c) => c.json({ tools: listTools(c.get('identity')) }));

  app.get('/plugins', (c) => c.json({ plugins: dispatcher.catalog.plugins }));

  app.post('/call-tool', async (c) => {
    const parsed = CallToolBodySchema.safeParse(await readJson(c, bodyLimitBytes));
    if (!parsed.success)
      throw validationError('BAD_REQUEST', toValidationIssues(parsed.error.issues));
    const out = await dispatcher.call({
      name: parsed.data.name,
      args: parsed.data.args,
      identity: c.get('identity'),
      requestId: c.get('requestId'),
      channel: 'http',
      signal: requestSignal(c),
    });
    return c.json(out);
  });
}
