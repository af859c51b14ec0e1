// The only module that reads process.env.

export type Env = Readonly<Record<string, string | undefined>>;

/** A frozen snapshot of the environment, handed to credential sources at load. */
export function snapshotEnv(): Env {
  return Object.freeze({ ...process.env });
}

/** An explicit Envoy binary, if the operator set one. */
export function envoyBinFromEnv(): string | undefined {
  const v = process.env.ENVOY_BIN;
  return v === undefined || v === '' ? undefined : v;
}
