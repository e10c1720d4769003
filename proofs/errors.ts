/**
 * Typed errors for medrelay. Every error carries a stable code (`MR_ERR_*`) so callers, logs and the API
 * can branch on it without parsing messages; `docs/errors.md` explains each code.
 */

export type ErrorDetails = Record<string, string | number | boolean | null | undefined>;

export class MedrelayError extends Error {
  readonly code: string;
  readonly details: ErrorDetails;
  override readonly cause?: unknown;

  constructor(code: string, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
    if (options.cause !== undefined) this.cause = options.cause;
  }

  /** Follows `cause` links; returns the first error for which `fn` is true. */
  walk(fn: (err: unknown) => boolean): unknown {
    let cur: unknown = this;
    for (let depth = 0; cur !== undefined && depth < 16; depth++) {
      if (fn(cur)) return cur;
      cur = (cur as { cause?: unknown }).cause;
    }
    return undefined;
  }

  get docsPath(): string {
    return `docs/errors.md#${this.code.toLowerCase()}`;
  }
}

/** Malformed or unverifiable proof data: RLP, tries, headers, seals, accumulators. */
export class ProofError extends MedrelayError {}

/** Bad configuration: names the field and what was expected. */
export class ConfigError extends MedrelayError {}

/** A chain RPC or transaction failed. `retryable` tells the relayer whether to try again. */
export class ChainError extends MedrelayError {
  readonly retryable: boolean;
  constructor(
    code: string,
    message: string,
    options: { details?: ErrorDetails; cause?: unknown; retryable?: boolean } = {},
  ) {
    super(code, message, options);
    this.retryable = options.retryable ?? false;
  }
}

/** Relayer state or pipeline failures. */
export class RelayerError extends MedrelayError {}
