// Helpers that turn the generated message types (extproc/wire/generated/) into the shapes Tollgate
// holds: deeply readonly, and, for what Tollgate sends, narrowed to what Envoy actually honours.

/** A generated message type as Tollgate holds it: deeply readonly; Buffers and scalars untouched. */
export type Wire<T> = T extends Buffer | Uint8Array | string | number | boolean | bigint | null | undefined
  ? T
  : T extends readonly (infer E)[]
    ? readonly Wire<E>[]
    : { readonly [K in keyof T]: Wire<T[K]> };

/**
 * T with some fields narrowed, e.g. made required or limited to the variant Envoy honours. N may name
 * only fields of T, each with a type T already allows, so a proto refresh that renames or retypes a
 * field breaks the build here instead of silently sending a field Envoy ignores.
 */
export type Narrow<T, N extends { readonly [K in keyof N]: K extends keyof T ? T[K] : never }> = Omit<T, keyof N> & N;

/**
 * T with fields whose type deliberately differs from the generated one (only where the generator is
 * stricter than the encoder). N may name only fields of T. Every use says why.
 */
export type Override<T, N extends { readonly [K in keyof N]: K extends keyof T ? unknown : never }> = Omit<T, keyof N> & N;

/**
 * envoy.type.v3.HttpStatus as Tollgate sends it. The generated type lists the StatusCode enum's names and
 * numbers; Tollgate sends the catalogue's numeric status, which protobufjs encodes as the enum's number.
 */
export interface HttpStatusCode {
  readonly code: number;
}
