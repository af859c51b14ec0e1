import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);

/**
 * A package loaded on first use instead of at start. Optional features (Redis, Vault, JWT, CEL)
 * cost 15-30 MB of RSS each once loaded; a deployment that does not configure them never pays.
 * Node 24 loads ES modules synchronously through require when they have no top-level await.
 */
// The caller names the module's type (typeof import of the package); nothing in the arguments can infer it.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export function lazyModule<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= requireFromHere(id) as T;
    return loaded;
  };
}
