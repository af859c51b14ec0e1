import { pino, type DestinationStream, type Logger } from 'pino';
import type { TollgateError } from '../errors.ts';

export type { Logger } from 'pino';

const SECRET_KEYS = ['authorization', 'Authorization', '["proxy-authorization"]', 'cookie', 'Cookie', '["x-api-key"]', '["api-key"]', 'secret', 'apiKey', 'token'];

/**
 * Paths pino censors, as a second line of defence: Tollgate never logs header maps or secrets on
 * purpose, and secrets are wrapped in Secret, which prints as "[redacted]" at any depth. These paths
 * cover credential-named fields up to three levels deep, and any `headers` object's values.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => {
    const bracket = k.startsWith('[');
    return [bracket ? k.slice(2, -2) : k, ...['*', '*.*', '*.*.*'].map((prefix) => `${prefix}${bracket ? '' : '.'}${k}`)];
  }),
  'headers.*', '*.headers.*', '*.*.headers.*',
];

/** The root logger: JSON lines on stderr (stdout may carry the audit log). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tollgate' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

/**
 * The fields of a failed request's one log line: its code and message, and the message of what caused
 * it. The stack only for `internal` (a bug, where it is what a fix needs); an outage (Vault, Redis) or a
 * refusal is an operational event, and a stack per failed request only buries it.
 */
export function failureFields(e: TollgateError): Record<string, unknown> {
  if (e.code === 'internal') return { code: e.code, err: e.cause ?? e };
  const cause = e.cause instanceof Error ? e.cause.message : undefined;
  return { code: e.code, error: e.message, ...(cause === undefined ? {} : { cause }) };
}
