// What a body format knows: how its requests are walked, the output they ask for, and where usage is.
import type { WalkRules } from '../shared/request-walk.ts';
import type { JsonObject, JsonValue } from '../shared/strict-json.ts';
import type { OutputRequest } from '../shared/output-request.ts';
import type { UsageParts } from '../shared/usage.ts';

export interface BodyFormatHandler {
  /** Whether a top-level "model" string in the request body names the model. */
  readonly bodyModel: boolean;
  /** How the request document is walked: every string leaf and key is scanned; these rules add roles, protected fields, media, fetches and server tools. */
  requestRules(doc: JsonObject): WalkRules;
  /** The output the request asks for at most (its cap and number of outputs): the reservation's bound. */
  outputRequest(doc: JsonObject): OutputRequest;
  /** Usage in a complete (buffered) response document. */
  usage(doc: JsonValue): UsageParts | undefined;
  /** Usage in one stream event (SSE `data`, or a decoded event-stream payload). */
  streamUsage(event: string | undefined, doc: JsonValue): UsageParts | undefined;
}
