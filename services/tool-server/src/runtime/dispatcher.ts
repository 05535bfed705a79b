import {
  AppError,
  hasScope,
  toValidationIssues,
  validationError,
  type Capability,
  type Counter,
  type Histogram,
  type Identity,
  type Logger,
} from '@datamancy/core';
import type { ToolNet } from '@datamancy/plugin-sdk';
import {
  digestArgs,
  type AuditLog,
  type CallChannel,
  type CallOutcome,
} from '../audit/audit-log.ts';
import type { LoadedTool, ToolCatalog } from './loader.ts';

export interface CallRequest {
  name: string;
  args: unknown;
  identity: Identity;
  requestId: string;
  channel: CallChannel;
  /** The caller's own signal (client disconnect); the dispatcher adds the tool's deadline. */
  signal?: AbortSignal | undefined;
}

export interface CallResult {
  result: unknown;
  elapsedMs: number;
}

export interface DispatcherDeps {
  catalog: ToolCatalog;
  audit: AuditLog;
  logger: Logger;
  net: ToolNet;
  defaultTimeoutMs: number;
  maxOutputBytes: number;
  metrics?: { calls: Counter<'tool' | 'outcome'>; duration: Histogram<'tool'> };
}

/** The capabilities the identity lacks for this tool (empty when it may call it). */
export function missingCapabilities(
  identity: Identity,
  capabilities: readonly Capability[],
): Capability[] {
  return capabilities.filter((c) => !hasScope(identity, c));
}

export function callableBy(catalog: ToolCatalog, identity: Identity): LoadedTool[] {
  return [...catalog.tools.values()].filter(
    (t) => missingCapabilities(identity, t.capabilities).length === 0,
  );
}

function outcomeOf(err: AppError): CallOutcome {
  switch (err.code) {
    case 'TOOL_NOT_FOUND':
      return 'not_found';
    case 'CAPABILITY_DENIED':
      return 'denied';
    case 'INVALID_ARGUMENTS':
      return 'invalid';
    case 'TOOL_TIMEOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

class AbortedByCaller extends Error {}

/**
 * The one point every tool call passes, whatever the channel (HTTP, MCP, chat proxy):
 * lookup → capability check against the caller's scope → argument validation → handler
 * under a deadline whose signal aborts the work → output budget → audit record.
 */
export class ToolDispatcher {
  constructor(private readonly deps: DispatcherDeps) {}

  get catalog(): ToolCatalog {
    return this.deps.catalog;
  }

  async call(req: CallRequest): Promise<CallResult> {
    const started = performance.now();
    let outcome: CallOutcome = 'ok';
    let errorCode: string | null = null;
    try {
      const result = await this.#invoke(req);
      return { result, elapsedMs: Math.round((performance.now() - started) * 1000) / 1000 };
    } catch (err) {
      if (err instanceof AbortedByCaller) {
        outcome = 'aborted';
        errorCode = 'ABORTED';
        throw new AppError('BAD_REQUEST', 'the caller went away before the tool finished');
      }
      const appError =
        err instanceof AppError
          ? err
          : new AppError('TOOL_FAILED', `tool ${req.name} failed: ${(err as Error).message}`, {
              cause: err,
            });
      if (!(err instanceof AppError)) {
        this.deps.logger.warn(
          { err, tool: req.name, requestId: req.requestId },
          'tool handler threw',
        );
      }
      outcome = outcomeOf(appError);
      errorCode = appError.code;
      throw appError;
    } finally {
      const durationMs = performance.now() - started;
      this.deps.metrics?.calls.inc({ tool: req.name, outcome });
      this.deps.metrics?.duration.observe({ tool: req.name }, durationMs / 1000);
      this.deps.audit.record({
        caller: req.identity.name,
        channel: req.channel,
        tool: req.name,
        argsDigest: digestArgs(req.args),
        outcome,
        errorCode,
        durationMs: Math.round(durationMs * 1000) / 1000,
        requestId: req.requestId,
      });
    }
  }

  async #invoke(req: CallRequest): Promise<unknown> {
    const loaded = this.deps.catalog.tools.get(req.name);
    if (loaded === undefined) {
      throw new AppError('TOOL_NOT_FOUND', `no tool named "${req.name}" (GET /tools lists them)`, {
        data: { tool: req.name },
      });
    }
    const lacking = missingCapabilities(req.identity, loaded.capabilities);
    if (lacking.length > 0) {
      throw new AppError(
        'CAPABILITY_DENIED',
        `${req.identity.name} may not call ${req.name}: missing capability ${lacking.join(', ')}`,
        { data: { tool: req.name, missing: lacking } },
      );
    }
    const parsed = loaded.tool.input.safeParse(req.args ?? {});
    if (!parsed.success) {
      throw validationError('INVALID_ARGUMENTS', toValidationIssues(parsed.error.issues, 'args'));
    }

    const timeoutMs = loaded.tool.timeoutMs ?? this.deps.defaultTimeoutMs;
    // One controller per call: the deadline and the caller's disconnect both abort it.
    // (Forwarding by hand: AbortSignal.any is slow on Node 20.)
    const controller = new AbortController();
    const signal = controller.signal;
    let timer: NodeJS.Timeout | undefined;
    let onCallerAbort: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort(new Error(`tool ${req.name} timed out`));
        reject(
          new AppError(
            'TOOL_TIMEOUT',
            `tool ${req.name} did not finish within ${timeoutMs} ms; its work was aborted`,
          ),
        );
      }, timeoutMs);
      if (req.signal !== undefined) {
        const callerSignal = req.signal;
        onCallerAbort = () => {
          controller.abort(callerSignal.reason);
          reject(new AbortedByCaller());
        };
        if (callerSignal.aborted) onCallerAbort();
        else callerSignal.addEventListener('abort', onCallerAbort, { once: true });
      }
    });
    guard.catch(() => undefined); // settled through the race below
    try {
      const work = Promise.resolve().then(() =>
        loaded.tool.handler(
          {
            logger: this.deps.logger.child({
              plugin: loaded.pluginId,
              tool: req.name,
              requestId: req.requestId,
            }),
            config: loaded.config,
            signal,
            caller: req.identity,
            requestId: req.requestId,
            net: this.deps.net,
          },
          parsed.data,
        ),
      );
      work.catch(() => undefined); // settled by the race below; never an unhandled rejection
      const result = await Promise.race([work, guard]);
      const limit = loaded.tool.maxOutputBytes ?? this.deps.maxOutputBytes;
      const size = Buffer.byteLength(JSON.stringify(result ?? null));
      if (size > limit) {
        throw new AppError(
          'TOOL_OUTPUT_TOO_LARGE',
          `tool ${req.name} produced ${size} bytes, over its ${limit}-byte budget; narrow the request`,
          { data: { bytes: size, limit } },
        );
      }
      return result ?? null;
    } finally {
      clearTimeout(timer);
      if (onCallerAbort !== undefined) req.signal?.removeEventListener('abort', onCallerAbort);
    }
  }
}
