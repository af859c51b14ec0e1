import { pino, type DestinationStream, type Logger } from 'pino';

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
