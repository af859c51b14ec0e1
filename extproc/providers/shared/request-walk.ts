// Scan by default: one linear walk over a request document that makes every string leaf a text segment, and
// every distinct object key one more (keys carry text the model sees: tool-argument and schema property names,
// metadata keys). A format only adds knowledge on top: the role of a subtree, the short list of fields that
// must not change (ids, signatures, signed reasoning), which findings block instead of mask, inline media bytes,
// and what asks the provider to fetch a URL or run a server-side tool. Nothing a format does not know is skipped.
import type { JsonPath, SegmentRole, ServerTool, TextSegment } from '../../core/content.ts';
import { decodeInlineText } from '../../core/inline-text.ts';

export type { ServerTool };
import type { JsonObject, JsonValue } from './strict-json.ts';

/** What a format says about one object, before its members are walked. Every field is optional. */
export interface ObjectInfo {
  /** The role of text under this object (inherited otherwise). */
  readonly role?: SegmentRole;
  /** The whole subtree must not change (signed or encrypted reasoning): its findings block. */
  readonly protect?: boolean;
  /**
   * The member holding inline media (base64 or a base64 data: URL): not scanned while it is exactly that,
   * unless its media type is text (then its decoded text is scanned and masked in place, re-encoded).
   */
  readonly media?: string;
  /** The media type the format declares beside the payload (a data: URL declares its own). */
  readonly mediaType?: string | undefined;
  /** The object asks the provider to fetch a URL. */
  readonly fetch?: boolean;
  /** Server-side tools the object enables. */
  readonly tools?: readonly ServerTool[];
}

export interface WalkRules {
  /** Keys whose string values must not change (ids, signatures): scanned, and a finding blocks. */
  readonly protectedKeys: ReadonlySet<string>;
  /** Roles of top-level members (a top-level string such as OpenAI's "instructions" has no object to say it). */
  readonly roles?: Readonly<Record<string, SegmentRole>>;
  /** Spelling a key is compared in (Gemini accepts proto snake_case names as well as camelCase). */
  readonly key?: (k: string) => string;
  /**
   * Called on each object with its path (read only; do not keep it), the role inherited and the object that
   * holds it as a member (undefined at the root and for array elements).
   */
  object?(o: JsonObject, path: JsonPath, role: SegmentRole, parent: JsonObject | undefined): ObjectInfo | undefined;
}

export interface RequestContent {
  readonly segments: TextSegment[];
  /** How many places ask the provider to fetch a URL. */
  readonly fetches: number;
  /** Server-side tools the request enables, distinct, in order of appearance. */
  readonly tools: readonly ServerTool[];
}

// Strict base64 (standard or URL-safe alphabet), or a data: URL whose payload is that.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const DATA_URL = /^data:[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(?:;[a-z0-9_.+-]+=[a-z0-9_.+-]+)*;base64,/i;

/** Whether `s` is inline media bytes and nothing else. Anything else in a media field is scanned (and blocks). */
export function isInlineMedia(s: string): boolean {
  const m = DATA_URL.exec(s);
  const payload = m === null ? s : s.slice(m[0].length);
  return payload.length > 0 && payload.length % 4 === 0 && BASE64.test(payload);
}

/** An http(s) or gs:// URL: something a provider would fetch. */
export const isRemoteUrl = (v: JsonValue | undefined): boolean => typeof v === 'string' && /^(?:https?|gs|s3):\/\//i.test(v.trimStart());

const same = (k: string): string => k;

/** Integers below 9 digits match no number detector (an SSN has 9, phone numbers 10 and more, cards 13-19). */
const MIN_SCANNED_NUMBER = 1e8;

/**
 * Walks `doc`: every string value is a segment at its exact path, and so is every integer of 9+ digits in
 * content (protected); every distinct key is a protected segment (`key: true`). Inline media of a text type is
 * a segment of its decoded text (`inline` says how to re-encode it); other inline media is skipped.
 * `modelField`: the top-level "model" is the format's model name, a protected segment (the model rules check it,
 * and it is never rewritten).
 */
export function walkRequest(doc: JsonObject, rules: WalkRules, modelField: boolean): RequestContent {
  const segments: TextSegment[] = [];
  const tools: ServerTool[] = [];
  const keys = new Set<string>();
  const norm = rules.key ?? same;
  let fetches = 0;
  const path: (string | number)[] = [];

  const emit = (text: string, role: SegmentRole, prot: boolean, key: boolean): void => {
    if (text === '') return;
    segments.push({ path: path.slice(), text, role, ...(prot ? { protected: true } : {}), ...(key ? { key: true } : {}) });
  };

  /** `media`: the value sits where the format puts inline media; its declared type ('' when none). */
  const value = (v: JsonValue, role: SegmentRole, prot: boolean, media: string | undefined, parent: JsonObject | undefined): void => {
    if (typeof v === 'string') {
      if (media === undefined || !isInlineMedia(v)) emit(v, role, prot || media !== undefined, false);
      else {
        const decoded = decodeInlineText(v, media === '' ? undefined : media);
        if (decoded !== undefined) segments.push({ path: path.slice(), text: decoded.text, role, ...(prot ? { protected: true } : {}), inline: decoded.inline });
      }
    } else if (typeof v === 'number') {
      // A long integer in message or tool content (a card or account number a tool's schema types as integer)
      // is scanned as its digits, protected: a number cannot hold a placeholder, so a finding blocks. Generation
      // parameters (seed, max_tokens: the 'other' role) are not content.
      if (role !== 'other' && Number.isInteger(v) && Math.abs(v) >= MIN_SCANNED_NUMBER) emit(String(v), role, true, false);
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        value(v[i] as JsonValue, role, prot, undefined, undefined);
        path.pop();
      }
    } else if (typeof v === 'object' && v !== null) {
      object(v, role, prot, parent);
    }
  };

  const object = (o: JsonObject, inherited: SegmentRole, inheritedProt: boolean, parent: JsonObject | undefined): void => {
    const info = rules.object?.(o, path, inherited, parent);
    const role = info?.role ?? inherited;
    const prot = inheritedProt || info?.protect === true;
    if (info?.fetch === true) fetches++;
    for (const t of info?.tools ?? []) if (!tools.includes(t)) tools.push(t);
    for (const k of Object.keys(o)) {
      // The body's model: the model rules check its name and it is never rewritten, but it travels to the
      // provider, so a value hidden in it (`gpt-4o:AKIA…` passes a `gpt-4o*` grant) is scanned and blocks.
      const model = modelField && path.length === 0 && k === 'model';
      path.push(k);
      if (!keys.has(k)) {
        keys.add(k);
        emit(k, role, true, true);
      }
      const n = norm(k);
      const memberRole = path.length === 1 ? (rules.roles?.[n] ?? role) : role;
      value(o[k] as JsonValue, memberRole, prot || model || rules.protectedKeys.has(n), info?.media === k ? (info.mediaType ?? '') : undefined, o);
      path.pop();
    }
  };

  object(doc, 'other', false, undefined);
  return { segments, fetches, tools };
}
