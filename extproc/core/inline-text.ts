// Text carried as inline media: a base64 payload (bare, or in a data: URL) whose declared media type is text.
// The request walk decodes it so the scanner reads the text; masking re-encodes the masked text in the same
// form (same data: URL header and media type, same base64 alphabet), so the provider still gets a valid file.
import { isUtf8 } from 'node:buffer';

/** Where a segment's text came from when it is the decoded content of an inline media string. */
export interface InlineText {
  /** The JSON string as the body holds it (a data: URL or bare base64). */
  readonly source: string;
  /** What precedes the base64 payload in `source` (the data: URL header, or ''). */
  readonly prefix: string;
  /** The payload uses the URL-safe alphabet (`-`, `_`). */
  readonly urlSafe: boolean;
  /** The declared media type (lower case, no parameters). */
  readonly mediaType: string;
}

// text/*, the structured-text application types, and any +json/+xml/+yaml suffix (image/svg+xml is XML).
const TEXT_TYPE = /^(?:text\/[a-z0-9.+-]+|application\/(?:json|jsonl|x-ndjson|xml|yaml|x-yaml|toml|x-toml|javascript|x-javascript|ecmascript|x-sh|x-shellscript|sql|csv|graphql|x-www-form-urlencoded|x-httpd-php)|[a-z]+\/[a-z0-9.-]+\+(?:json|xml|yaml))$/;

/** The media type without parameters, lower case. */
const bareType = (t: string): string => (t.split(';', 1)[0] ?? '').trim().toLowerCase();

/** Whether a declared media type names text (a file the model reads as characters). */
export function isTextMediaType(type: string): boolean {
  return TEXT_TYPE.test(bareType(type));
}

const DATA_HEADER = /^data:([^,;]+)((?:;[^,;]+)*);base64,/i;

/**
 * The text inside `s` when `s` is inline media of a text type: `declared` is the type the format states beside
 * the payload (Anthropic `media_type`, Gemini `mimeType`, Bedrock's document format); a data: URL states its
 * own. Undefined when the type is not text or the payload is not valid UTF-8 once decoded (then it is binary,
 * left as media). The caller has already checked that `s` is strict base64 or a base64 data: URL.
 */
export function decodeInlineText(s: string, declared: string | undefined): { text: string; inline: InlineText } | undefined {
  const m = DATA_HEADER.exec(s);
  const type = m === null ? declared : m[1];
  if (type === undefined || !isTextMediaType(type)) return undefined;
  const prefix = m === null ? '' : m[0];
  const payload = s.slice(prefix.length);
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length === 0 || !isUtf8(bytes)) return undefined;
  const urlSafe = /[-_]/.test(payload) && !/[+/]/.test(payload);
  return { text: bytes.toString('utf8'), inline: { source: s, prefix, urlSafe, mediaType: bareType(type) } };
}

/** `text` encoded back into the form of `inline.source`: same header and alphabet, padded to whole groups. */
export function encodeInlineText(inline: InlineText, text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (!inline.urlSafe) return inline.prefix + bytes.toString('base64');
  const b64 = bytes.toString('base64url');
  return inline.prefix + b64.padEnd(Math.ceil(b64.length / 4) * 4, '=');
}
