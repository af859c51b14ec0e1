// What providers extract from bodies and detectors find in them. Imports nothing internal but its own helpers.
import type { InlineText } from './inline-text.ts';

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
  /** A field that must not change (an id, a signature, signed reasoning, an object key): a finding in it blocks instead of masking. */
  readonly protected?: true;
  /** The text is an object key (at `path`), not a string value: it can be scanned, never masked. */
  readonly key?: true;
  /**
   * The text is the decoded content of the inline media string at `path` (a text file sent as base64): masking
   * re-encodes the masked text in the same form.
   */
  readonly inline?: InlineText;
}

/** Server-side tool categories: the provider runs them, and what they fetch or send never passes Tollgate. */
export const SERVER_TOOLS = ['web_search', 'web_fetch', 'code_execution', 'computer_use', 'file_search', 'mcp', 'image_generation', 'other'] as const;
export type ServerTool = (typeof SERVER_TOOLS)[number];

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
