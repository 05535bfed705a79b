/**
 * Request errors. Handlers throw `AppError`; one `onError` renders it through the code→HTTP
 * table below into the JSON envelope `{"error": {"code", "message", ...data}}`.
 */

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_ARGUMENTS: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CAPABILITY_DENIED: 403,
  CONTAINER_UNMANAGED: 403,
  NOT_ALLOWLISTED: 403,
  URL_REFUSED: 403,
  NOT_FOUND: 404,
  TOOL_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  TOOL_FAILED: 500,
  UPSTREAM_ERROR: 502,
  TOOL_OUTPUT_TOO_LARGE: 502,
  UNAVAILABLE: 503,
  TOOL_TIMEOUT: 504,
  UPSTREAM_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface AppErrorOptions {
  cause?: unknown;
  /** Extra fields rendered into the error envelope (must be safe to show to the caller). */
  data?: Record<string, unknown>;
  /** Seconds for a `Retry-After` header (429/503). */
  retryAfterS?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | undefined;
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.data = options.data;
    this.retryAfterS = options.retryAfterS;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

export interface ErrorBody {
  error: { code: string; message: string; requestId?: string } & Record<string, unknown>;
}

export function toErrorBody(err: AppError, requestId?: string): ErrorBody {
  return {
    error: {
      ...err.data,
      code: err.code,
      message: err.message,
      ...(requestId === undefined ? {} : { requestId }),
    },
  };
}

/** One issue of a failed validation, with a dotted path such as `args.url`. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Joins a zod-style path into `a.b[0].c`, prefixed by `root` when given. */
export function formatIssuePath(path: readonly PropertyKey[], root?: string): string {
  let out = root ?? '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

interface ZodLikeIssue {
  path: readonly PropertyKey[];
  message: string;
}

export function toValidationIssues(
  issues: readonly ZodLikeIssue[],
  root?: string,
): ValidationIssue[] {
  return issues.map((issue) => ({
    path: formatIssuePath(issue.path, root),
    message: issue.message,
  }));
}

/** Builds a 400 error whose message names every failing path. */
export function validationError(
  code: 'INVALID_ARGUMENTS' | 'BAD_REQUEST',
  issues: ValidationIssue[],
): AppError {
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new AppError(
    code,
    `invalid ${code === 'INVALID_ARGUMENTS' ? 'arguments' : 'request'}: ${summary}`,
    {
      data: { issues },
    },
  );
}
