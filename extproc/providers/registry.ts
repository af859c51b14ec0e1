import type { ProviderKind } from '../config/schema.ts';
import type { Credential } from '../credentials/credential-source.ts';
import { parseModelRequest, parseUsageObject } from './json-body.ts';
import type { HeaderToSet, ProviderAdapter } from './provider.ts';

const withSecret = (credential: Credential, make: (secret: string) => HeaderToSet[]): readonly HeaderToSet[] =>
  credential.kind === 'none' || credential.secret === undefined ? [] : make(credential.secret.reveal());

const ADAPTERS: Readonly<Record<ProviderKind, ProviderAdapter>> = Object.freeze({
  openai: {
    kind: 'openai',
    parseRequest: parseModelRequest,
    credentialHeaders: (c) => withSecret(c, (s) => [{ name: 'authorization', value: `Bearer ${s}` }]),
    parseUsage: parseUsageObject,
  },
  // vLLM, Ollama, LM Studio and other servers that speak the OpenAI API.
  'openai-compatible': {
    kind: 'openai-compatible',
    parseRequest: parseModelRequest,
    credentialHeaders: (c) => withSecret(c, (s) => [{ name: 'authorization', value: `Bearer ${s}` }]),
    parseUsage: parseUsageObject,
  },
  anthropic: {
    kind: 'anthropic',
    parseRequest: parseModelRequest,
    credentialHeaders: (c) => withSecret(c, (s) => [{ name: 'x-api-key', value: s }]),
    parseUsage: parseUsageObject,
  },
});

export function providerAdapter(kind: ProviderKind): ProviderAdapter {
  return ADAPTERS[kind];
}
