import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear, as a second line of defence: Tollgate never logs header
 * maps or secrets on purpose, and secrets are wrapped in Secret, which prints as "[redacted]".
 */
export const REDACT_PATHS: readonly string[] = [
  'authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'api-key', 'secret', 'apiKey', 'token',
  '*.authorization', '*["proxy-authorization"]', '*.cookie', '*["x-api-key"]', '*["api-key"]', '*.secret', '*.apiKey', '*.token',
  'headers.*', '*.headers.*',
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
