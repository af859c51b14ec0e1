// Provider adapters: one per kind; how each applies a credential.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProviderKind } from '../../extproc/config/schema.ts';
import { Secret } from '../../extproc/core/secret.ts';
import { NO_CREDENTIAL, type Credential } from '../../extproc/credentials/credential-source.ts';
import { parseModelRequest, parseUsageObject } from '../../extproc/providers/json-body.ts';
import { providerAdapter } from '../../extproc/providers/registry.ts';

const KEY = 'sk-provider-key-123';
const apiKey: Credential = { kind: 'api-key', secret: new Secret(KEY) };

describe('providerAdapter', () => {
  const table: readonly [ProviderKind, { name: string; value: string }[]][] = [
    ['openai', [{ name: 'authorization', value: `Bearer ${KEY}` }]],
    ['openai-compatible', [{ name: 'authorization', value: `Bearer ${KEY}` }]],
    ['anthropic', [{ name: 'x-api-key', value: KEY }]],
  ];
  for (const [kind, headers] of table) {
    describe(kind, () => {
      const adapter = providerAdapter(kind);

      it('reports its kind and parses JSON bodies', () => {
        assert.equal(adapter.kind, kind);
        const request = Buffer.from('{"model":"m-1","stream":true}');
        assert.deepEqual(adapter.parseRequest(request), parseModelRequest(request));
        assert.deepEqual(adapter.parseRequest(request), { model: 'm-1', stream: true });
        const response = Buffer.from('{"usage":{"input_tokens":2,"output_tokens":3}}');
        assert.deepEqual(adapter.parseUsage(response), parseUsageObject(response));
        assert.deepEqual(adapter.parseUsage(response), { inputTokens: 2, outputTokens: 3, totalTokens: 5 });
        assert.throws(() => adapter.parseRequest(Buffer.from('nope')), { code: 'body_malformed' });
      });

      it(`sets ${headers.map((h) => h.name).join(', ')} from an api-key credential`, () => {
        assert.deepEqual(adapter.credentialHeaders(apiKey), headers);
        for (const h of adapter.credentialHeaders(apiKey)) assert.equal(h.name, h.name.toLowerCase());
      });

      it('sets no header for kind "none"', () => {
        assert.deepEqual(adapter.credentialHeaders(NO_CREDENTIAL), []);
        assert.deepEqual(adapter.credentialHeaders({ kind: 'none', secret: new Secret(KEY) }), []);
      });

      it('sets no header for an api-key credential without a secret', () => {
        assert.deepEqual(adapter.credentialHeaders({ kind: 'api-key', secret: undefined }), []);
      });
    });
  }
});
