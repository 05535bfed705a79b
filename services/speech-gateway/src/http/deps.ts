import { isAppError, type Logger } from '@datamancy/core';
import type { AudioTools } from '../audio/prepare.ts';
import type { Backends } from '../backends/create.ts';
import type { SpeechGatewayConfig } from '../config.ts';
import type { Operation, SpeechMetrics } from '../metrics.ts';
import type { JobLimiter } from '../runtime/limiter.ts';
import type { VoiceDirectory } from '../runtime/voices.ts';

/** What the routes work with; built once by `createApp`. */
export interface GatewayDeps {
  config: SpeechGatewayConfig;
  backends: Backends;
  limiter: JobLimiter;
  tools: AudioTools;
  voices: VoiceDirectory;
  metrics: SpeechMetrics;
}

export interface JobContext {
  operation: Operation;
  backend: string;
  signal: AbortSignal;
  log: Logger;
}

/**
 * Runs a backend job in a limiter slot, counting its outcome and timing its success; a backend
 * failure is logged with its cause (the caller sees only the message).
 */
export async function runJob<T>(
  deps: GatewayDeps,
  job: JobContext,
  work: () => Promise<T>,
): Promise<T> {
  const { operation, backend, signal } = job;
  try {
    const result = await deps.limiter.run(async () => {
      const started = performance.now();
      const value = await work();
      deps.metrics.duration.observe({ operation, backend }, (performance.now() - started) / 1000);
      return value;
    }, signal);
    deps.metrics.jobs.inc({ operation, backend, outcome: 'ok' });
    return result;
  } catch (err) {
    const outcome = isAppError(err) ? err.code.toLowerCase() : 'internal';
    deps.metrics.jobs.inc({ operation, backend, outcome });
    if (isAppError(err) && err.status >= 500) {
      job.log.warn(
        { err, backend, operation, code: err.code },
        `${operation} failed: ${err.message}`,
      );
    }
    throw err;
  }
}

/** Language codes compared by their primary subtag: `en-US` is `en`. */
export const primaryLanguage = (code: string) => code.toLowerCase().split(/[-_]/)[0] ?? code;
