import { z } from 'zod';

// Where a secret is read from, for every section that names one (provider credentials, the authz
// context key, the kill-switch token, the Redis password, request-proof keys, the audit chain key).
// The config holds the place, never the value; service-material.ts reads it at start.

export const envSource = z.strictObject({
  source: z.literal('env'),
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
});

export const fileSource = z.strictObject({ source: z.literal('file'), path: z.string().min(1) });

export const secretSourceSchema = z.discriminatedUnion('source', [envSource, fileSource]);
