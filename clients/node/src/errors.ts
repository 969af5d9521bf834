/**
 * Typed errors of @modelops/client. Every failure the package reports is one of these, with a one-line
 * message, so a Node backend can map them to HTTP answers (404, 400, 502/503) without parsing text.
 * Load-time checks carry `reason`: the same text the Python inference server puts in its health `reason`.
 */

/** Base class of every error thrown by this package. */
export class ModelOpsError extends Error {
  override readonly name: string = 'ModelOpsError';
}

/** Unknown model type or version, or a directory that does not exist. */
export class ModelNotFoundError extends ModelOpsError {
  override readonly name = 'ModelNotFoundError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * A model that failed a load-time check (metadata, ONNX validity, tokenizer, golden answer).
 * `reason` is the text the Python server reports for the same failure.
 */
export class VerificationError extends ModelOpsError {
  override readonly name: string = 'VerificationError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A file that does not match manifest.json, or a signature that does not verify. */
export class IntegrityError extends VerificationError {
  override readonly name = 'IntegrityError';
}

/** The caller's input: text that is not a string, an empty array, a blank text, an unknown option. */
export class InvalidInputError extends ModelOpsError {
  override readonly name = 'InvalidInputError';
}

/** A remote server answered with an error status; `status` and the server's own message are kept. */
export class ServerError extends ModelOpsError {
  override readonly name: string = 'ServerError';
  constructor(
    readonly status: number,
    readonly serverMessage: string,
    readonly url: string,
  ) {
    super(`${url} answered ${status}: ${serverMessage}`);
  }
}

/** The server refused the bearer token (401) or it was missing. */
export class AuthenticationError extends ServerError {
  override readonly name = 'AuthenticationError';
}

/** The server could not be reached (connection refused or reset, timeout) after the bounded retries. */
export class ConnectionError extends ModelOpsError {
  override readonly name = 'ConnectionError';
  constructor(
    message: string,
    readonly url: string,
  ) {
    super(message);
  }
}

/** Python's repr() of a string, so reason texts that quote a value read exactly as the server's. */
export function pyRepr(value: string): string {
  if (value.includes("'") && !value.includes('"')) {
    return `"${value}"`;
  }
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** Python's type name for a JSON value, as the server's metadata errors spell it. */
export function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'dict';
}
