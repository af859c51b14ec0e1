// Typed errors of the provider translators. Messages never echo request text (model names, paths, keys):
// they name the rule that failed. Processing maps `code` to the error catalogue (see PROVIDER_ERROR_STATUS).
import { StrictJsonError } from './shared/strict-json.ts';

export type ProviderErrorCode =
  | 'endpoint_not_allowed' // method + path is not in the kind's endpoint list
  | 'path_malformed' // percent-encoding tricks, "..", encoded slashes, bad query
  | 'body_malformed' // invalid UTF-8, invalid JSON, duplicate keys, too deep, not an object
  | 'body_missing' // the endpoint needs a body and none came
  | 'model_missing' // the endpoint needs a model and none was found
  | 'model_invalid' // a model failed the charset/length rule
  | 'model_conflict' // the model appears in more than one place with different values
  | 'credential_mismatch' // the credential kind cannot be used with this provider kind
  | 'protocol_version_unsupported'; // a protocol version header the kind does not speak (MCP-Protocol-Version)

/** Proposed HTTP status per code (the lead owns the catalogue). */
export const PROVIDER_ERROR_STATUS: Readonly<Record<ProviderErrorCode, number>> = Object.freeze({
  endpoint_not_allowed: 403,
  path_malformed: 400,
  body_malformed: 400,
  body_missing: 400,
  model_missing: 400,
  model_invalid: 400,
  model_conflict: 400,
  credential_mismatch: 500,
  protocol_version_unsupported: 400,
});

export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  readonly detail: string;
  constructor(code: ProviderErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${code}: ${detail}`, options);
    this.name = 'ProviderError';
    this.code = code;
    this.detail = detail;
  }
  get httpStatus(): number {
    return PROVIDER_ERROR_STATUS[this.code];
  }
}

/** Method + path matched no endpoint of the provider kind: deny (403 endpoint_not_allowed). */
export class EndpointNotAllowed extends ProviderError {
  readonly method: string;
  constructor(method: string) {
    super('endpoint_not_allowed', `no endpoint rule matches this ${method} request`);
    this.name = 'EndpointNotAllowed';
    this.method = method;
  }
}

/** A body that the strict parser refused; `reason` says which rule (duplicate_key, utf8, depth...). */
export class BodyMalformed extends ProviderError {
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown }) {
    super('body_malformed', `request body refused: ${reason}`, options);
    this.name = 'BodyMalformed';
    this.reason = reason;
  }
  static from(err: unknown): BodyMalformed {
    return new BodyMalformed(err instanceof StrictJsonError ? err.reason : 'syntax', { cause: err });
  }
}
