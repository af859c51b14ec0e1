// What a body format knows: where the text is in requests and responses, and where usage is.
import type { TextSegment } from '../../core/content.ts';
import type { WalkRules } from '../shared/request-walk.ts';
import type { JsonObject, JsonValue } from '../shared/strict-json.ts';
import type { OutputRequest } from '../shared/output-request.ts';
import type { UsageParts } from '../shared/usage.ts';

export interface BodyFormatHandler {
  /** Whether a top-level "model" string in the request body names the model. */
  readonly bodyModel: boolean;
  /** How the request document is walked: every string leaf and key is scanned; these rules add roles, protected fields, media, fetches and server tools. */
  requestRules(doc: JsonObject): WalkRules;
  responseSegments(doc: JsonValue): TextSegment[];
  /** The output the request asks for at most (its cap and number of outputs): the reservation's bound. */
  outputRequest(doc: JsonObject): OutputRequest;
  /** Usage in a complete (buffered) response document. */
  usage(doc: JsonValue): UsageParts | undefined;
  /** Usage in one stream event (SSE `data`, or a decoded event-stream payload). */
  streamUsage(event: string | undefined, doc: JsonValue): UsageParts | undefined;
}
