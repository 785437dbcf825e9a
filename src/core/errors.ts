/**
 * Falconer's one error catalogue. Every error has a stable `code`; the ones that can reach an HTTP
 * client carry the status they map to. Bad input is always a 4xx, never a 500.
 */
export class FalconerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UnauthorizedError extends FalconerError {
  constructor(message = 'missing or invalid bearer token') {
    super('unauthorized', message, 401);
  }
}

/** A valid token that does not carry the scope the route needs. */
export class ForbiddenError extends FalconerError {
  constructor(scope: string) {
    super('forbidden', `this token lacks the "${scope}" scope`, 403);
  }
}

/** A console write authenticated by its session cookie without the session's `X-CSRF-Token` header. */
export class CsrfError extends FalconerError {
  constructor() {
    super('csrf', 'missing or wrong X-CSRF-Token header for this console session', 403);
  }
}

/** Malformed request line or URL (a percent-escape that does not decode, say). */
export class BadRequestError extends FalconerError {
  constructor(message: string) {
    super('bad_request', message, 400);
  }
}

/** The caller took longer than `server.headersTimeoutSeconds` / `requestTimeoutSeconds` to send its request. */
export class RequestTimeoutError extends FalconerError {
  constructor() {
    super('request_timeout', 'the request was not received in time', 408);
  }
}

export class HeadersTooLargeError extends FalconerError {
  constructor() {
    super('headers_too_large', 'request headers are too large', 431);
  }
}

export class UnsupportedMediaTypeError extends FalconerError {
  constructor(got: string | undefined) {
    super('unsupported_media_type', `content-type must be application/json, got ${JSON.stringify(got ?? '')}`, 415);
  }
}

export class UnsupportedEncodingError extends FalconerError {
  constructor(got: string) {
    super('unsupported_encoding', `content-encoding must be gzip or identity, got ${JSON.stringify(got)}`, 415);
  }
}

export class PayloadTooLargeError extends FalconerError {
  constructor(limit: number, what = 'request body') {
    super('payload_too_large', `${what} exceeds the limit of ${limit} bytes`, 413);
  }
}

/** More events in one request than the bus can ever hold: a retry could never succeed, so not a 503. */
export class BatchTooLargeError extends FalconerError {
  constructor(events: number, capacity: number) {
    super(
      'batch_too_large',
      `batch of ${events} events exceeds the pipeline queue's capacity of ${capacity}; send smaller batches`,
      413,
    );
  }
}

export class InvalidJsonError extends FalconerError {
  constructor(message: string) {
    super('invalid_json', message, 400);
  }
}

export class InvalidEventError extends FalconerError {
  constructor(message: string, details?: unknown) {
    super('invalid_event', message, 400, details);
  }
}

export class NotFoundError extends FalconerError {
  constructor(what: string) {
    super('not_found', `${what} not found`, 404);
  }
}

export class UnavailableError extends FalconerError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super('unavailable', message, 503);
  }
}

/**
 * The catalogue's view of any error thrown while answering a request. Errors from express, its
 * router or node (a URI that does not decode, say) carry a 4xx `status`; they keep it, with a
 * generic message so nothing internal leaks. Everything else is a 500: a bug, not bad input.
 */
export function toHttpError(err: unknown): FalconerError {
  if (err instanceof FalconerError) return err;
  const status =
    (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500) {
    if (status === 413) return new FalconerError('payload_too_large', 'request body too large', 413);
    if (status === 415) return new FalconerError('unsupported_media_type', 'unsupported media type', 415);
    return new BadRequestError(err instanceof URIError ? 'request URL does not decode' : 'malformed request');
  }
  if (err instanceof URIError) return new BadRequestError('request URL does not decode');
  return new FalconerError('internal', 'internal error', 500);
}

export class ConfigError extends FalconerError {
  constructor(message: string, details?: unknown) {
    super('config_invalid', message, 500, details);
  }
}

/** The data dir cannot be used as configured (another process holds it, the file is damaged). */
export class StorageError extends FalconerError {
  constructor(message: string) {
    super('storage_failed', message, 500);
  }
}

export class RuleError extends FalconerError {
  constructor(message: string, details?: unknown) {
    super('rule_invalid', message, 500, details);
  }
}

export class DeliveryError extends FalconerError {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super('delivery_failed', message, 502);
  }
}
