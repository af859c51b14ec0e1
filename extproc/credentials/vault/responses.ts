// zod schemas for the Vault responses Tollgate reads. Unknown fields pass; missing or mistyped ones fail.
import { z } from 'zod';

const leaseFields = {
  lease_id: z.string().default(''),
  lease_duration: z.number().int().nonnegative().default(0),
  renewable: z.boolean().default(false),
};

/** The generic envelope of a secret read (leased KV v1, dynamic engines). */
export const secretEnvelope = z.object({
  ...leaseFields,
  data: z.record(z.string(), z.unknown()).nullable(),
});
export type SecretEnvelope = z.infer<typeof secretEnvelope>;

export const kv2Read = z.object({
  data: z.object({
    data: z.record(z.string(), z.unknown()).nullable(),
    metadata: z.object({
      version: z.number().int().positive(),
      created_time: z.string().optional(),
      deletion_time: z.string().optional(),
      destroyed: z.boolean().optional(),
    }),
  }),
});

export const authEnvelope = z.object({
  auth: z.object({
    client_token: z.string().min(1),
    accessor: z.string().optional(),
    lease_duration: z.number().int().nonnegative(),
    renewable: z.boolean(),
    policies: z.array(z.string()).nullable().optional(),
  }),
});
export type AuthInfo = z.infer<typeof authEnvelope>['auth'];

export const tokenLookup = z.object({
  data: z.object({
    ttl: z.number().int(),
    renewable: z.boolean().optional(),
    expire_time: z.string().nullable().optional(),
    policies: z.array(z.string()).nullable().optional(),
  }),
});

export const leaseRenew = z.object({
  lease_id: z.string(),
  lease_duration: z.number().int().nonnegative(),
  renewable: z.boolean(),
});

/** aws/creds and aws/sts: Vault >= 1.16 sends session_token, OpenBao's plugin security_token. */
export const awsData = z.object({
  access_key: z.string().min(1),
  secret_key: z.string().min(1),
  security_token: z.string().nullable().optional(),
  session_token: z.string().nullable().optional(),
  arn: z.string().optional(),
});

/** gcp roleset/static-account token: no lease, a static expiry. */
export const gcpTokenData = z.object({
  token: z.string().min(1),
  expires_at_seconds: z.number().int().positive(),
  token_ttl: z.number().optional(),
});
