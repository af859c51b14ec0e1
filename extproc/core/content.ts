// What providers extract from bodies and detectors find in them. Imports nothing internal.

/** A JSON location: object keys and array indices from the document root. */
export type JsonPath = readonly (string | number)[];

/** Where a piece of text sits in a conversation, as far as the provider format tells. */
export type SegmentRole = 'system' | 'user' | 'assistant' | 'tool' | 'tool_call' | 'other';

/**
 * One string of a request or response body that may carry content: a message, a system prompt, a
 * content part, tool-call arguments, a tool result. `path` locates the JSON string value holding
 * `text` exactly (so a redactor can replace it).
 */
export interface TextSegment {
  readonly path: JsonPath;
  readonly text: string;
  readonly role: SegmentRole;
}

/** A detector hit. Offsets are JavaScript string indices into the segment's (or input's) text. */
export interface Finding {
  /** The detector's stable id, e.g. "secret.aws_access_key_id". */
  readonly detector: string;
  /** The data type, e.g. "AWS_ACCESS_KEY", "EMAIL"; placeholders are named after it. */
  readonly type: string;
  readonly start: number;
  readonly end: number;
  /** Index into the segment list the finding came from, when scanning segments. */
  readonly segment?: number;
}
