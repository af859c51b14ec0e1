// Fields that must not change, one table per format family (the body formats that share field names): ids,
// signatures, encrypted reasoning and base64 payloads. Changing one byte of them breaks the caller or the
// provider (a signature no longer verifies, an id no longer resolves, audio no longer decodes), so they are
// scanned but never masked or restored: a finding in one blocks the request or refuses the response. Each row says in which direction it holds; requests read
// the rows for `request` (providers/formats/*), responses the rows for `response` (redactors/protected-fields.ts),
// so the two sides cannot drift apart. Whole signed blocks (thinking, reasoning items) are protected by the
// formats' structure rules, not here. docs/content-controls.md lists the same fields.

export type FormatFamily = 'openai' | 'anthropic' | 'gemini' | 'bedrock-converse' | 'generic';

/**
 * A key whose string value must not change. `both` holds in requests and responses. A response row may hold
 * only inside an object whose "type" (or whose own key in its parent) is `holderType`.
 */
export type ProtectedField =
  | { readonly key: string; readonly in: 'request' | 'both' }
  | { readonly key: string; readonly in: 'response'; readonly holderType?: string };

// In responses every "id" and every key ending in "_id" or "Id" is protected for every kind anyway
// (redactors/protected-fields.ts); the ids below are listed so the request side holds them too.
export const PROTECTED_FIELDS: Readonly<Record<FormatFamily, readonly ProtectedField[]>> = Object.freeze({
  openai: [
    { key: 'id', in: 'both' },
    { key: 'tool_call_id', in: 'both' },
    { key: 'call_id', in: 'both' },
    { key: 'previous_response_id', in: 'both' },
    { key: 'approval_request_id', in: 'both' },
    { key: 'file_id', in: 'both' },
    { key: 'encrypted_content', in: 'both' },
    { key: 'b64_json', in: 'response' },
    { key: 'data', in: 'response', holderType: 'audio' },
    { key: 'delta', in: 'response', holderType: 'response.audio.delta' },
  ],
  anthropic: [
    { key: 'id', in: 'both' },
    { key: 'tool_use_id', in: 'both' },
    { key: 'signature', in: 'both' },
    // In requests the whole redacted_thinking block is protected (anthropic.ts).
    { key: 'data', in: 'response', holderType: 'redacted_thinking' },
  ],
  gemini: [
    // Requests compare keys in camelCase (geminiKey), so thought_signature is thoughtSignature there.
    { key: 'id', in: 'both' },
    { key: 'thoughtSignature', in: 'both' },
    { key: 'thought_signature', in: 'response' },
    { key: 'cachedContent', in: 'request' },
    { key: 'data', in: 'response', holderType: 'inlineData' },
  ],
  'bedrock-converse': [
    { key: 'toolUseId', in: 'both' },
    // reasoningContent.redactedContent (in requests the whole reasoningContent block is protected).
    { key: 'redactedContent', in: 'response' },
    // The random padding of AWS event-stream payloads.
    { key: 'p', in: 'response' },
  ],
  generic: [],
});

/** The keys protected in requests of a format family. */
export function requestProtectedKeys(format: FormatFamily): ReadonlySet<string> {
  return new Set(PROTECTED_FIELDS[format].filter((f) => f.in !== 'response').map((f) => f.key));
}

/** The rows that hold in responses of these format families. */
export function responseProtectedFields(formats: readonly FormatFamily[]): readonly { readonly key: string; readonly holderType?: string | undefined }[] {
  return formats.flatMap((format) => PROTECTED_FIELDS[format].filter((f) => f.in !== 'request').map((f) => ({ key: f.key, holderType: 'holderType' in f ? f.holderType : undefined })));
}
