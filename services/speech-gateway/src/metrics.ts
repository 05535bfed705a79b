import { Counter, Gauge, Histogram, type Registry } from '@datamancy/core';
import type { JobLimiter } from './runtime/limiter.ts';

export type Operation = 'transcribe' | 'speech';

export interface SpeechMetrics {
  jobs: Counter<'operation' | 'backend' | 'outcome'>;
  duration: Histogram<'operation' | 'backend'>;
  audioSeconds: Counter<'operation'>;
}

/** The gateway's families, added to the service registry beside the HTTP and process ones. */
export function createSpeechMetrics(registry: Registry, limiter: JobLimiter): SpeechMetrics {
  new Gauge({
    name: 'speech_jobs_in_flight',
    help: 'Backend jobs running.',
    registers: [registry],
    collect() {
      this.set(limiter.running);
    },
  });
  new Gauge({
    name: 'speech_queue_depth',
    help: 'Backend jobs waiting for a slot.',
    registers: [registry],
    collect() {
      this.set(limiter.queued);
    },
  });
  return {
    jobs: new Counter({
      name: 'speech_jobs_total',
      help: 'Transcriptions and syntheses by backend and outcome (ok or the error code).',
      labelNames: ['operation', 'backend', 'outcome'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'speech_backend_duration_seconds',
      help: 'Time the backend took for a job that succeeded.',
      labelNames: ['operation', 'backend'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    audioSeconds: new Counter({
      name: 'speech_audio_seconds_total',
      help: 'Audio transcribed (input) and synthesised (output), in seconds, where known.',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
  };
}
