/**
 * The pino logger. Statements are logged in redacted form by their callers; `redact` here is
 * the second line of defence for fields that must never carry a value.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = ['password', '*.password', 'secret', '*.secret', 'value', '*.value', 'secretAccessKey', '*.secretAccessKey', 'sessionToken', '*.sessionToken'];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'iamlink' },
      redact: { paths: REDACT_PATHS, censor: '<REDACTED>' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
