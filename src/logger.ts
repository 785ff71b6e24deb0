/** The daemon's logger: pino JSON lines, with credential fields censored wherever they appear. */
import pino, { type DestinationStream, type Logger } from 'pino';

/** Field names that may hold a credential, censored in every log line. */
const REDACT_PATHS = [
  'auth_token',
  'token',
  'secret',
  'password',
  'authorization',
  '*.auth_token',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  'params.auth_token',
  'req.headers.authorization',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'camprobe' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
