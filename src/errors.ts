/**
 * One error hierarchy for the whole server. Handlers and services throw
 * `XrpcError`s carrying the lexicon's error name; the HTTP layer maps them to
 * `{ error, message }` with the right status. Anything else becomes a 500
 * `InternalServerError` whose details stay in the log, never in the response.
 */
export class XrpcError extends Error {
  /** Response headers the client needs, e.g. `WWW-Authenticate` and `DPoP-Nonce` on a DPoP refusal. */
  responseHeaders?: Record<string, string>;

  constructor(
    readonly status: number,
    readonly error: string,
    message?: string,
    options?: ErrorOptions,
  ) {
    super(message ?? error, options);
    this.name = "XrpcError";
  }

  toJSON(): { error: string; message: string } {
    return { error: this.error, message: this.message };
  }
}

export class InvalidRequestError extends XrpcError {
  constructor(message = "Invalid request", error = "InvalidRequest", options?: ErrorOptions) {
    super(400, error, message, options);
  }
}

export class AuthRequiredError extends XrpcError {
  constructor(message = "Authentication required", error = "AuthenticationRequired") {
    super(401, error, message);
  }
}

export class ForbiddenError extends XrpcError {
  constructor(message = "Forbidden", error = "Forbidden") {
    super(403, error, message);
  }
}

export class NotFoundError extends XrpcError {
  constructor(message = "Not found", error = "NotFound") {
    super(404, error, message);
  }
}

export class MethodNotImplementedError extends XrpcError {
  constructor(message = "Method Not Implemented") {
    super(501, "MethodNotImplemented", message);
  }
}

export class PayloadTooLargeError extends XrpcError {
  constructor(message = "Request entity too large", error = "PayloadTooLarge") {
    super(413, error, message);
  }
}

export class RateLimitExceededError extends XrpcError {
  constructor(message = "Rate limit exceeded") {
    super(429, "RateLimitExceeded", message);
  }
}

/** A backend could not answer: the request may succeed if retried later. */
export class UpstreamUnavailableError extends XrpcError {
  constructor(message = "Service temporarily unavailable", options?: ErrorOptions) {
    super(503, "ServiceUnavailable", message, options);
  }
}

/**
 * Thrown by plugins. The message is prefixed with the plugin's name so an
 * operator reading the log knows which backend failed; `cause` keeps the
 * driver's own error.
 */
export class PluginError extends Error {
  constructor(
    readonly plugin: string,
    message: string,
    options?: ErrorOptions & { unavailable?: boolean },
  ) {
    super(`[aurora] [${plugin}] ${message}`, options);
    this.name = "PluginError";
    this.unavailable = options?.unavailable ?? false;
  }
  /** True when the backend is unreachable (maps to 503), not a logic error. */
  readonly unavailable: boolean;
}

/** A bad config value or a missing secret: start-up stops with this message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
