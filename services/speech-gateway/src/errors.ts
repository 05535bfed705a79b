import { AppError, validationError } from '@datamancy/core';
import { CommandError } from './runtime/run-command.ts';

/**
 * The gateway's request errors, all rendered by core's `onError`: a bad field is 400 naming it
 * (`issues[].path`), a backend that failed is 502 naming the backend, one that did not answer
 * in time is 504.
 */

export function fieldError(path: string, message: string, data?: Record<string, unknown>) {
  const err = validationError('BAD_REQUEST', [{ path, message }]);
  return data === undefined
    ? err
    : new AppError(err.code, err.message, { data: { ...err.data, ...data } });
}

export function backendError(
  backend: string,
  message: string,
  options: { cause?: unknown; data?: Record<string, unknown> } = {},
) {
  return new AppError('UPSTREAM_ERROR', `${backend} backend failed: ${message}`, {
    cause: options.cause,
    data: { backend, ...options.data },
  });
}

export function backendTimeout(backend: string, timeoutMs: number, cause?: unknown) {
  return new AppError(
    'UPSTREAM_TIMEOUT',
    `${backend} backend did not answer within ${timeoutMs} ms`,
    {
      cause,
      data: { backend, timeoutMs },
    },
  );
}

/** The client went away; nobody reads the answer, but the log should not call it a fault. */
export function clientGone(cause?: unknown) {
  return new AppError('BAD_REQUEST', 'the client closed the connection', { cause });
}

/** A local program's failure as the request's error (its stderr stays in the log). */
export function commandFailure(backend: string, err: unknown, timeoutMs: number): AppError {
  if (!(err instanceof CommandError)) return backendError(backend, String(err), { cause: err });
  switch (err.kind) {
    case 'timeout':
      return backendTimeout(backend, timeoutMs, err);
    case 'aborted':
      return clientGone(err);
    case 'missing':
    case 'output-too-large':
    case 'failed':
      return backendError(backend, err.message, { cause: err });
  }
}
