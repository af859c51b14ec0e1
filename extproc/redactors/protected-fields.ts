// Response fields that must not change, per provider kind: the response rows of its format families' tables
// (providers/shared/protected-fields.ts, which the request side reads too), plus every id for every kind.
// They are scanned but never masked or restored: a finding in one blocks the response (buffered) or fails the
// stream, instead of masking it. Every other string leaf of a response is scanned and masked.
import { responseProtectedFields, type FormatFamily } from '../providers/shared/protected-fields.ts';

/** The format families whose response rows hold for each provider kind (Bedrock answers Converse and Claude bodies). */
const RESPONSE_FORMATS: Readonly<Record<string, readonly FormatFamily[]>> = Object.freeze({
  openai: ['openai'],
  'azure-openai': ['openai'],
  'openai-compatible': ['openai'],
  anthropic: ['anthropic'],
  vertex: ['gemini'],
  bedrock: ['anthropic', 'bedrock-converse'],
  // MCP answers: only the ids every kind protects (a JSON-RPC id; tool results carry no signed content).
  mcp: ['generic'],
});

/** A key, optionally only inside an object whose "type" (or whose own key in its parent) is `holderType`. */
interface ProtectedKey {
  readonly key: string;
  readonly holderType?: string | undefined;
}

// Signed reasoning text: scanned and masked like any text, but placeholders are not restored in it (the caller
// sends the block back verbatim and the provider checks it against its signature).
const SIGNED_TEXT: readonly ProtectedKey[] = [{ key: 'thinking', holderType: 'thinking' }, { key: 'text', holderType: 'reasoningText' }, { key: 'text', holderType: 'reasoningContent' }];

/** Decides whether `holder[key]` is protected, given the holder's "type" and the holder's own key in its parent. */
export type ProtectedTest = (key: string | number, holderType: string | undefined, holderKey: string | number | undefined) => boolean;

const tests = new Map<string, ProtectedTest>();

/** The test for a provider kind (built once per kind); ids ("id", "*_id", "*Id") are protected for every kind, known or not. */
export function protectedFieldsFor(kind: string | undefined): ProtectedTest {
  const name = kind !== undefined && RESPONSE_FORMATS[kind] !== undefined ? kind : '';
  const known = tests.get(name);
  if (known !== undefined) return known;
  const list = responseProtectedFields(RESPONSE_FORMATS[name] ?? []);
  const plain = new Set(list.filter((p) => p.holderType === undefined).map((p) => p.key));
  const typed = list.filter((p) => p.holderType !== undefined);
  const test: ProtectedTest = (key, holderType, holderKey) => {
    if (typeof key !== 'string') return false;
    if (key === 'id' || plain.has(key) || key.endsWith('_id') || key.endsWith('Id')) return true;
    return typed.some((p) => p.key === key && (p.holderType === holderType || p.holderType === holderKey));
  };
  tests.set(name, test);
  return test;
}

/** Whether `holder[key]` is signed reasoning text, where placeholders are not restored (every kind). */
export const isSignedText: ProtectedTest = (key, holderType, holderKey) =>
  SIGNED_TEXT.some((p) => p.key === key && (p.holderType === holderType || p.holderType === holderKey));
