/**
 * One error registry for riskfuse: every error has a stable `code` (never reworded once shipped), an HTTP
 * status where one applies, and whether retrying the same operation may succeed.
 */
export const ERRORS = {
  CONFIG_INVALID: { status: 500, retryable: false },
  VALIDATION_FAILED: { status: 400, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  CONFLICT: { status: 409, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  IMPORT_REJECTED: { status: 422, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  STORE_UNAVAILABLE: { status: 503, retryable: true },
  STORE_REJECTED: { status: 500, retryable: false },
  STORE_QUERY_INVALID: { status: 400, retryable: false },
  MIGRATION_FAILED: { status: 500, retryable: false },
  /** A model artifact that is malformed or does not match its own declared features/shapes. */
  MODEL_INVALID: { status: 422, retryable: false },
  SHUTTING_DOWN: { status: 503, retryable: true },
  INTERNAL: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export class RiskfuseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RiskfuseError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryable = options.retryable ?? ERRORS[code].retryable;
    this.details = options.details;
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof RiskfuseError && err.retryable;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
