// The sealed authz context as tests read and tamper with it: the `context` field of the metadata struct
// is a JSON array (core/authz-context.ts); these name its elements, so a test can read the decision id
// or change one value while keeping the seal (which must then fail).
import { AUTHZ_CONTEXT_FIELDS, AUTHZ_CONTEXT_VERSION } from '../../extproc/core/authz-context.ts';
import type { Struct } from '../../extproc/wire/struct.ts';

export type ContextFieldName = (typeof AUTHZ_CONTEXT_FIELDS)[number];

/** The struct's `context` and `seal` strings. */
export function sealedFields(struct: Struct | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(struct?.fields ?? {})) if (typeof v.stringValue === 'string') out[k] = v.stringValue;
  return out;
}

/** The context's values by name (parsed from the `context` field; not verified). */
export function contextValues(struct: Struct | undefined): Partial<Record<ContextFieldName, string>> {
  const context = sealedFields(struct).context;
  if (context === undefined) return {};
  const values = JSON.parse(context) as string[];
  return Object.fromEntries(AUTHZ_CONTEXT_FIELDS.map((name, i) => [name, values[i + 1]]));
}

/** One value of the context by name, e.g. `contextValue(md, 'decision_id')`. */
export function contextValue(struct: Struct | undefined, name: ContextFieldName): string | undefined {
  return contextValues(struct)[name];
}

/**
 * The struct's string fields with the context's values edited after sealing (the seal is kept, unless
 * `seal` is given). A value set to undefined is left out of the array, which makes it malformed.
 */
export function tamperedFields(struct: Struct | undefined, edit: Partial<Record<ContextFieldName, string | undefined>>, seal?: string): Record<string, string> {
  const fields = sealedFields(struct);
  const values: Partial<Record<ContextFieldName, string | undefined>> = { ...contextValues(struct), ...edit };
  const array = [AUTHZ_CONTEXT_VERSION, ...AUTHZ_CONTEXT_FIELDS.map((n) => values[n]).filter((v) => v !== undefined)];
  return { ...fields, context: JSON.stringify(array), ...(seal === undefined ? {} : { seal }) };
}
