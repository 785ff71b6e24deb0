/**
 * Why camprobe could not start, said so a new user knows what to do next: a missing
 * configuration file by its absolute path and how to name another; a port in use by its
 * number and the three ways to change it; an invalid configuration by its problems.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, ConfigFileError, defaultConfigPaths } from '../config/load.js';

/** What the error happened to, for the hint. */
export interface StartContext {
  /** The configuration file in use, if one was found. */
  configPath: string | undefined;
  /** Whether the file was named with --config (otherwise it is a default). */
  configGiven: boolean;
  /** Whether --port was given. */
  portGiven: boolean;
}

/** The message and exit code for an error that stopped camprobe before it ran. */
export function describeStartError(err: unknown, ctx: StartContext): { text: string; code: number } {
  if (err instanceof ConfigFileError) return { text: `camprobe: ${err.message}\n  ${missingFileHint(err, ctx)}\n`, code: 2 };
  if (err instanceof ConfigError) return { text: `camprobe: ${err.message}\n`, code: 2 };
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE' && typeof e.port === 'number') return { text: portInUse(e.address ?? 'localhost', e.port, ctx), code: 1 };
  return { text: `camprobe: cannot start: ${e.code ? `${e.code}: ` : ''}${e.message}\n`, code: 1 };
}

/** No file was named and none of the default places has one. */
export function noDefaultConfig(): string {
  const [system = '', packaged = ''] = defaultConfigPaths();
  return `camprobe: no configuration file: neither ${system} nor ${packaged} exists\n  name one with --config FILE (config/camprobe.yaml in camprobe's source is the commented reference)\n`;
}

function missingFileHint(err: ConfigFileError, ctx: StartContext): string {
  if (err.fsCode !== 'ENOENT') return 'check its permissions, or name another file with --config FILE';
  const [system = '', packaged = ''] = defaultConfigPaths();
  if (ctx.configGiven) return `name an existing file with --config FILE; without --config camprobe reads ${system} if it exists, else ${packaged}`;
  return 'name the configuration with --config FILE';
}

function portInUse(host: string, port: number, ctx: StartContext): string {
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const ways = ['--port N'];
  if (!ctx.portGiven && ctx.configPath !== undefined) {
    const file = resolve(ctx.configPath);
    if (readsPortVariable(file)) ways.push('CAMPROBE_PORT=N');
    ways.push(`server.port in ${file}`);
  }
  const list = ways.length > 1 ? `${ways.slice(0, -1).join(', ')} or ${ways.at(-1) ?? ''}` : ways.join('');
  return `camprobe: cannot listen on ${where}: port ${port} is already in use (another camprobe?)\n  choose another port with ${list} (0: any free port)\n`;
}

/** Whether the configuration's server.port comes from CAMPROBE_PORT, as the default file's does. */
function readsPortVariable(file: string): boolean {
  try {
    return /\$\{CAMPROBE_PORT(?::-[^}]*)?\}/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}
