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
  /** How the payload's bytes encode the text, so masking writes them back the same way. */
  readonly encoding: TextEncoding;
}

/**
 * A text file's byte encoding: UTF-8; UTF-16 with its byte-order mark (Windows' "Unicode" text files), or
 * little-endian without one when it reads so (every second byte 0); else Latin-1, one character per byte (Windows-1252
 * and ISO-8859 files, or bytes that are no text at all: a declared text type is read either way, never skipped).
 */
export type TextEncoding = 'utf8' | 'utf16le-bom' | 'utf16be-bom' | 'utf16le' | 'latin1';

// text/*, message/* (an e-mail is text), the application types that are source code, keys, certificates or
// structured text (Gemini documents application/x-python-code and application/x-typescript for code files; SDKs set
// types from the file extension), and any +json/+xml/+yaml suffix (image/svg+xml is XML).
const TEXT_TYPE = new RegExp(
  '^(?:text/[a-z0-9.+-]+|message/[a-z0-9.+-]+|application/(?:' +
    [
      'json|jsonl|x-ndjson|xml|yaml|x-yaml|toml|x-toml|sql|csv|graphql|x-www-form-urlencoded|rtf|x-tex|x-latex',
      'javascript|x-javascript|ecmascript|typescript|x-typescript|x-python|x-python-code|x-python-script|x-ruby|x-perl',
      'x-php|x-httpd-php|x-sh|x-shellscript|x-csh|x-powershell|x-bat|x-properties|x-ini|x-env|x-dotenv',
      'x-pem-file|x-x509-ca-cert|x-x509-user-cert|pkix-cert|x-pkcs7-certificates|pgp-keys|pgp-signature|pgp-encrypted',
    ].join('|') +
    ')|[a-z]+/[a-z0-9.-]+\\+(?:json|xml|yaml))$',
);

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
 * own. Undefined when the type is not text (the payload is then media) or it holds no bytes. A text type is read
 * whatever its bytes (textEncoding), so a file in UTF-16 or Latin-1 is scanned too. The caller has already
 * checked that `s` is strict base64 or a base64 data: URL.
 */
export function decodeInlineText(s: string, declared: string | undefined): { text: string; inline: InlineText } | undefined {
  const m = DATA_HEADER.exec(s);
  const type = m === null ? declared : m[1];
  if (type === undefined || !isTextMediaType(type)) return undefined;
  const prefix = m === null ? '' : m[0];
  const payload = s.slice(prefix.length);
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length === 0) return undefined;
  const urlSafe = /[-_]/.test(payload) && !/[+/]/.test(payload);
  const encoding = textEncoding(bytes);
  return { text: decodeText(bytes, encoding), inline: { source: s, prefix, urlSafe, mediaType: bareType(type), encoding } };
}

/** How many leading bytes are looked at for UTF-16LE without a byte-order mark. */
const UTF16_PROBE = 512;

/** The encoding of a text file's bytes (TextEncoding). */
export function textEncoding(bytes: Buffer): TextEncoding {
  const even = (bytes.length & 1) === 0;
  // The byte-order marks are not UTF-8; UTF-16LE of ASCII is (0 is a valid byte), so it is looked for first.
  if (even && bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf16le-bom';
  if (even && bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf16be-bom';
  if (even && latinUtf16(bytes)) return 'utf16le';
  return isUtf8(bytes) ? 'utf8' : 'latin1';
}

/** Latin text in UTF-16LE: nine in ten of the high bytes 0, the low bytes not, over the first UTF16_PROBE bytes. */
function latinUtf16(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, UTF16_PROBE);
  let zeros = 0;
  let lowZeros = 0;
  for (let k = 0; k + 1 < n; k += 2) {
    if (bytes[k] === 0) lowZeros++;
    if (bytes[k + 1] === 0) zeros++;
  }
  return n > 0 && zeros * 20 >= n * 9 && lowZeros * 20 < n;
}

/** Swaps each pair of bytes (UTF-16BE to LE and back), in a copy. */
const swapped = (bytes: Buffer): Buffer => Buffer.from(bytes).swap16();

function decodeText(bytes: Buffer, encoding: TextEncoding): string {
  switch (encoding) {
    case 'utf8':
      return bytes.toString('utf8');
    case 'utf16le-bom':
      return bytes.subarray(2).toString('utf16le');
    case 'utf16be-bom':
      return swapped(bytes.subarray(2)).toString('utf16le');
    case 'utf16le':
      return bytes.toString('utf16le');
    case 'latin1':
      return bytes.toString('latin1');
  }
}

function encodeText(text: string, encoding: TextEncoding): Buffer {
  switch (encoding) {
    case 'utf8':
      return Buffer.from(text, 'utf8');
    case 'utf16le-bom':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 'utf16be-bom':
      return Buffer.concat([Buffer.from([0xfe, 0xff]), swapped(Buffer.from(text, 'utf16le'))]);
    case 'utf16le':
      return Buffer.from(text, 'utf16le');
    case 'latin1':
      return Buffer.from(text, 'latin1');
  }
}

/**
 * `text` encoded back into the form of `inline.source`: the same byte encoding, header and alphabet, padded to
 * whole groups. Masking only puts ASCII placeholders in, so every encoding holds the masked text.
 */
export function encodeInlineText(inline: InlineText, text: string): string {
  const bytes = encodeText(text, inline.encoding);
  if (!inline.urlSafe) return inline.prefix + bytes.toString('base64');
  const b64 = bytes.toString('base64url');
  return inline.prefix + b64.padEnd(Math.ceil(b64.length / 4) * 4, '=');
}
