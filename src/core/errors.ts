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

export class UnsupportedMediaTypeError extends FalconerError {
  constructor(got: string | undefined) {
    super('unsupported_media_type', `content-type must be application/json, got ${JSON.stringify(got ?? '')}`, 415);
  }
}

export class PayloadTooLargeError extends FalconerError {
  constructor(limit: number) {
    super('payload_too_large', `request body exceeds the limit of ${limit} bytes`, 413);
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

export class BadRequestError extends FalconerError {
  constructor(message: string) {
    super('bad_request', message, 400);
  }
}
