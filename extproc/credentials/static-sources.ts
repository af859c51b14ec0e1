import { readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Secret } from '../core/secret.ts';
import { TollgateError } from '../errors.ts';
import { NO_CREDENTIAL, type Credential, type CredentialSource } from './credential-source.ts';

/** Reads a credential from an environment variable, once, at load. */
export function envCredentialSource(name: string, env: Readonly<Record<string, string | undefined>>): CredentialSource {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new Error(`environment variable ${name} is not set or empty`);
  const credential: Credential = Object.freeze({ kind: 'api-key', secret: new Secret(value.trim()), meta: Object.freeze({ source: `env:${name}` }) });
  return {
    description: `env:${name}`,
    fetch: () => Promise.resolve(credential),
    close: () => Promise.resolve(),
  };
}

/**
 * Reads a credential from a file (first line, trimmed). The file is re-read when its mtime or size
 * changes, so rotating the file rotates the credential without a restart.
 */
export function fileCredentialSource(path: string): CredentialSource {
  const parse = (text: string): Credential => {
    const value = text.split('\n', 1)[0]?.trim() ?? '';
    if (value === '') throw new TollgateError('credential_unavailable', `credential file ${path} is empty`);
    return Object.freeze({ kind: 'api-key', secret: new Secret(value), meta: Object.freeze({ source: `file:${path}` }) });
  };
  // Fail at load if the file is unreadable or empty, not on the first request.
  let cached = parse(readFileSync(path, 'utf8'));
  let stamp = '';
  return {
    description: `file:${path}`,
    async fetch() {
      let s;
      try {
        s = await stat(path);
      } catch (err) {
        throw new TollgateError('credential_unavailable', `credential file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      }
      const now = `${s.mtimeMs}:${s.size}:${s.ino}`;
      if (now !== stamp) {
        cached = parse(await readFile(path, 'utf8'));
        stamp = now;
      }
      return cached;
    },
    close: () => Promise.resolve(),
  };
}

export function noCredentialSource(): CredentialSource {
  return { description: 'none', fetch: () => Promise.resolve(NO_CREDENTIAL), close: () => Promise.resolve() };
}
