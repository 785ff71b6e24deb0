/**
 * Loading a configuration file together with the probe scripts it names: the scripts'
 * probe types are needed to check the probe entries, so they are imported first.
 */
import { ConfigError, parseConfig, readConfigText, scriptsDirOf, type ParseOptions } from '../config/load.js';
import type { Config } from '../config/types.js';
import { quote } from '../core/text.js';
import { BUILTIN_PROBES } from './registry.js';
import { loadProbeScripts, ScriptsError } from './scripts.js';
import type { AnyProbeDefinition } from './types.js';

export type ProbeTypes = ReadonlyMap<string, AnyProbeDefinition>;

export interface LoadOptions {
  /** Variables for `${VAR}` and `{ env: VAR }` secrets; defaults to `process.env`. */
  env?: ParseOptions['env'];
  /** Probe types besides the scripted ones; defaults to the built-in types. */
  probeTypes?: ProbeTypes;
}

/** Reads and validates a configuration file (and the probe scripts it names). */
export async function loadConfig(path: string, opts: LoadOptions = {}): Promise<Config> {
  return (await loadConfigWithScripts(path, opts)).config;
}

/**
 * Reads a configuration file and the probe scripts it names (`probe_scripts_dir`), then
 * validates the configuration against the built-in and the scripted probe types. Resolves
 * with both; throws a ConfigError when the file or a script is wrong.
 */
export async function loadConfigWithScripts(path: string, opts: LoadOptions = {}): Promise<{ config: Config; probeTypes: ProbeTypes }> {
  const text = await readConfigText(path);
  const builtins = opts.probeTypes ?? BUILTIN_PROBES;
  let probeTypes = builtins;
  const env = opts.env ?? process.env;
  const dir = scriptsDirOf(text, env);
  if (dir !== undefined) {
    try {
      probeTypes = new Map([...builtins, ...(await loadProbeScripts(dir, builtins))]);
    } catch (err) {
      if (!(err instanceof ScriptsError)) throw err;
      throw new ConfigError(path, err.problems.map((p) => `probe_scripts_dir ${quote(dir)}: ${p}`));
    }
  }
  return { config: parseConfig(text, { env, probeTypes, source: path }), probeTypes };
}
