/**
 * The daemon's logger: pino, with credential fields censored wherever they appear; JSON
 * lines for machines, or one readable line per event for a person at a terminal.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

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

/** How log lines look: `json` (one JSON object a line) or `pretty` (for people). */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'camprobe' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Where log lines go and how they look. */
export interface LogOutput {
  format: LogFormat;
  /** 1 (stdout) or 2 (stderr). */
  fd: 1 | 2;
  /** ANSI colours, pretty only: a terminal without NO_COLOR. */
  colour: boolean;
}

/**
 * The stream for {@link createLogger}. `pretty` is pino-pretty in this process (synchronous,
 * so nothing is lost at exit), after pino has censored the credential fields: a line reads
 * `[12:00:01.234] WARN: local/auth_flow probe down {"reason":"connect_refused",…}`.
 */
export function logDestination(output: LogOutput): DestinationStream {
  if (output.format === 'json') return pino.destination({ dest: output.fd, sync: true });
  return pinoPretty({
    destination: output.fd,
    sync: true,
    colorize: output.colour,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    // The base field says nothing to a person; target and probe lead the message instead.
    ignore: 'pid,hostname,service,target,probe',
    messageFormat: (log, messageKey) => {
      const about = typeof log.target === 'string' ? `${log.target}${typeof log.probe === 'string' ? `/${log.probe}` : ''} ` : '';
      return `${about}${String(log[messageKey] ?? '')}`;
    },
  });
}
