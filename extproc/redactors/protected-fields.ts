// Response fields that must not change: ids, signatures, encrypted reasoning and base64 payloads. Changing one
// byte of them breaks the caller (a signature no longer verifies, an id no longer resolves, audio no longer
// decodes), so they are never masked or restored. They are still scanned: a finding in one blocks the response
// (buffered) or fails the stream, instead of masking it. The list is short and per provider kind; every other
// string leaf of a response is scanned and masked. docs/content-controls.md lists the same fields.

/** A key, optionally only inside an object whose "type" (or whose own key in its parent) is `holderType`. */
interface ProtectedKey {
  readonly key: string;
  readonly holderType?: string;
}

const IDS: readonly ProtectedKey[] = [{ key: 'id' }];
const OPENAI: readonly ProtectedKey[] = [
  ...IDS,
  { key: 'encrypted_content' },
  { key: 'b64_json' },
  { key: 'data', holderType: 'audio' },
  { key: 'delta', holderType: 'response.audio.delta' },
];
const ANTHROPIC: readonly ProtectedKey[] = [...IDS, { key: 'signature' }, { key: 'data', holderType: 'redacted_thinking' }];
const GEMINI: readonly ProtectedKey[] = [...IDS, { key: 'thoughtSignature' }, { key: 'thought_signature' }, { key: 'data', holderType: 'inlineData' }];
// Converse: reasoningContent.signature / redactedContent; event-stream payloads carry random padding in "p".
const BEDROCK: readonly ProtectedKey[] = [...ANTHROPIC, { key: 'redactedContent' }, { key: 'p' }];

export const PROTECTED_FIELDS: Readonly<Record<string, readonly ProtectedKey[]>> = Object.freeze({
  openai: OPENAI,
  'azure-openai': OPENAI,
  'openai-compatible': OPENAI,
  anthropic: ANTHROPIC,
  vertex: GEMINI,
  bedrock: BEDROCK,
});

// Signed reasoning text: scanned and masked like any text, but placeholders are not restored in it (the caller
// sends the block back verbatim and the provider checks it against its signature).
const SIGNED_TEXT: readonly ProtectedKey[] = [{ key: 'thinking', holderType: 'thinking' }, { key: 'text', holderType: 'reasoningText' }, { key: 'text', holderType: 'reasoningContent' }];

/** Decides whether `holder[key]` is protected, given the holder's "type" and the holder's own key in its parent. */
export type ProtectedTest = (key: string | number, holderType: string | undefined, holderKey: string | number | undefined) => boolean;

const tests = new Map<string, ProtectedTest>();

/** The test for a provider kind (built once per kind); ids ("id", "*_id", "*Id") are protected for every kind, known or not. */
export function protectedFieldsFor(kind: string | undefined): ProtectedTest {
  const name = kind !== undefined && PROTECTED_FIELDS[kind] !== undefined ? kind : '';
  const known = tests.get(name);
  if (known !== undefined) return known;
  const list = PROTECTED_FIELDS[name] ?? IDS;
  const plain = new Set(list.filter((p) => p.holderType === undefined).map((p) => p.key));
  const typed = list.filter((p) => p.holderType !== undefined);
  const test: ProtectedTest = (key, holderType, holderKey) => {
    if (typeof key !== 'string') return false;
    if (plain.has(key) || key.endsWith('_id') || key.endsWith('Id')) return true;
    return typed.some((p) => p.key === key && (p.holderType === holderType || p.holderType === holderKey));
  };
  tests.set(name, test);
  return test;
}

/** Whether `holder[key]` is signed reasoning text, where placeholders are not restored (every kind). */
export const isSignedText: ProtectedTest = (key, holderType, holderKey) =>
  SIGNED_TEXT.some((p) => p.key === key && (p.holderType === holderType || p.holderType === holderKey));
