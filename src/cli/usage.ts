/**
 * The command line's words: the help text, the options, and turning argv into a command
 * or into one short usage error (`camprobe: unknown option --bogus; see camprobe --help`),
 * with the option or command the user likely meant.
 */
import { parseArgs } from 'node:util';
import { PACKAGED_CONFIG_PATH, SYSTEM_CONFIG_PATH } from '../config/load.js';
import { POD_INDEX_ENV } from '../config/shard.js';
import { didYouMean } from '../core/text.js';
import { VERSION } from '../version.js';

export const COMMANDS = ['run', 'check-config', 'demo', 'once', 'help', 'version'] as const;
export type Command = (typeof COMMANDS)[number];

export const HELP = `camprobe ${VERSION}: synthetic monitor for the camera service's JSON-RPC WebSocket API

Usage:
  camprobe [run] [--config FILE] [--shard I/N]          run the daemon
  camprobe check-config [--config FILE] [--shard I/N]   validate the configuration, list what it probes, exit
  camprobe demo [--port N]                              start a simulated camera service and the daemon against it
  camprobe once [--config FILE] [--target NAME ...] [--probe NAME ...]
                [--reporter pretty|json|junit] [--output FILE]
                                          run each selected probe once against the running service
                                          and exit: 0 all passed, 1 any failed, 2 usage or config error
  camprobe help | version                 this text | version, commit and Node.js (also --help, --version)

Options:
  -c, --config FILE   configuration file (YAML). Without it: ${SYSTEM_CONFIG_PATH} if it
                      exists, else the packaged ${PACKAGED_CONFIG_PATH} (demo: always the packaged one)
  -p, --port N        HTTP port for /metrics (overrides server.port; 0: any free port)
      --shard I/N     probe only shard I (0-based) of N: the targets whose name hashes to I
                      (overrides the config's shard; run N replicas with 0/N … N-1/N)
      --shard auto/N  the same, I being this pod's ordinal in a StatefulSet of N replicas:
                      from ${POD_INDEX_ENV} if set, else from the host name NAME-I
      --log-format F  pretty (one readable line per event) or json (one JSON object per line);
                      default: pretty on a terminal, json otherwise (env CAMPROBE_LOG_FORMAT)
  -t, --target NAME   once: only this target (repeatable)
      --probe NAME    once: only probes with this name (repeatable)
  -r, --reporter R    once: pretty (default; coloured on a terminal unless NO_COLOR is set), json or junit
  -o, --output FILE   once: write the report to FILE (the pretty table still goes to stdout)
  -h, --help          show this help
  -v, --version       print version and commit

Environment: CAMPROBE_LOG_LEVEL (default info; once: error), CAMPROBE_LOG_FORMAT, NO_COLOR;
             the default configuration also reads CAMPROBE_HOST, CAMPROBE_PORT,
             CAMERA_SERVICE_URL and CAMERA_SERVICE_JWT_SECRET.
Signals: SIGHUP reloads the configuration (an invalid one is refused, the running one stays).
         SIGTERM and SIGINT stop cleanly (runs in flight are aborted, sockets closed).
Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  shard: { type: 'string' },
  'log-format': { type: 'string' },
  target: { type: 'string', short: 't', multiple: true },
  probe: { type: 'string', multiple: true },
  reporter: { type: 'string', short: 'r' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** The command and its options, or a usage error (one line, without the `camprobe: ` prefix). */
export type CommandLine = { command: Command; values: Values } | { usage: string };

/** A usage error as printed: one line, and where to read more. */
export function usageLine(problem: string): string {
  return `camprobe: ${problem}; see camprobe --help\n`;
}

/** Parses argv. `--help` and `--version` anywhere win over everything but a malformed option. */
export function parseCommandLine(argv: string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    return { usage: optionProblem(err) };
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', values };
  if (values.version) return { command: 'version', values };
  const [first = 'run', ...rest] = positionals;
  if (!isCommand(first)) {
    const hint = didYouMean(first, COMMANDS);
    return { usage: `unknown command ${JSON.stringify(first)}${hint ? `: ${hint}` : ` (commands: ${COMMANDS.join(', ')})`}` };
  }
  if (rest.length > 0) return { usage: `unexpected argument ${JSON.stringify(rest[0])} after "${first}"` };
  const misplaced = optionsOf(first, values);
  return misplaced ? { usage: misplaced } : { command: first, values };
}

function isCommand(word: string): word is Command {
  return (COMMANDS as readonly string[]).includes(word);
}

/** Options given to a command they do not belong to. */
function optionsOf(command: Command, values: Values): string | undefined {
  const onceOnly = (['target', 'probe', 'reporter', 'output'] as const).find((k) => values[k] !== undefined);
  if (command !== 'once' && onceOnly) return `--${onceOnly} is an option of "camprobe once"`;
  if (values.shard !== undefined && command !== 'run' && command !== 'check-config') {
    return '--shard is an option of "camprobe run" and "camprobe check-config"';
  }
  return undefined;
}

/**
 * parseArgs' own messages are long and quote oddly ("… as in '-- \"--bogus\""); its error
 * codes say what happened, and the option is the first quoted word.
 */
function optionProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
  // "-c, --config <value>": the long name is the one to show.
  const option = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(/[ ,]/)[0] ?? quoted;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const known = Object.keys(OPTIONS).map((name) => `--${name}`);
      const hint = option.startsWith('--') ? didYouMean(option, known, (s) => s) : '';
      return `unknown option ${option}${hint ? `: ${hint}` : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(e.message) ? `option ${option} needs a value` : `option ${option} takes no value`;
    default:
      return e.message;
  }
}
