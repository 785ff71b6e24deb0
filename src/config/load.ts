/**
 * Reads and validates the configuration once, at start: interpolation, schema, then the
 * rules that span fields (`build/`). Every problem is collected and listed in document
 * order, so one attempt shows them all. The result is frozen.
 */
import { fileURLToPath } from 'node:url';
import { buildConfig } from './build/root.js';
import { interpolateAll } from './interpolate.js';
import { deepFreeze } from './objects.js';
import { ConfigError, Problems } from './problems.js';
import { parseYaml } from './read.js';
import type { Config, ProbeTypeSpec } from './types.js';

export { ConfigError, ConfigFileError } from './problems.js';
export { readConfigText, scriptsDirOf } from './read.js';

/** The configuration camprobe ships (the commented reference), relative to the package root. */
export const PACKAGED_CONFIG_PATH = 'config/camprobe.yaml';
/** The system's configuration file, read first when no file is named. */
export const SYSTEM_CONFIG_PATH = '/etc/camprobe/camprobe.yaml';

/**
 * Where camprobe looks for its configuration when no file is named, in order: the
 * system's file, then the packaged one (absolute: found from any working directory,
 * from a checkout or an installed package alike).
 */
export function defaultConfigPaths(): string[] {
  // This module is dist/src/config/load.js: the package root is three levels up.
  return [SYSTEM_CONFIG_PATH, fileURLToPath(new URL(`../../../${PACKAGED_CONFIG_PATH}`, import.meta.url))];
}

export interface ParseOptions {
  /** Names the configuration in messages (usually its path). */
  source: string;
  /** Variables for `${VAR}` and `{ env: VAR }` secrets; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /** Probe types by `type`; their option schemas validate the probe entries. */
  probeTypes: ReadonlyMap<string, ProbeTypeSpec>;
}

/** Validates configuration text; throws a ConfigError listing every problem. */
export function parseConfig(text: string, opts: ParseOptions): Config {
  const env = opts.env ?? process.env;
  const { doc, data } = parseYaml(text, opts.source);
  const problems = new Problems(doc);
  interpolateAll(data, [], env, problems);
  const config = buildConfig(data, { probeTypes: opts.probeTypes, env, problems });
  if (problems.size > 0) throw new ConfigError(opts.source, problems.sorted());
  // Whatever build leaves out, it has reported: with no problem, the configuration is whole.
  if (config === undefined) throw new Error('internal error: the configuration is incomplete, yet no problem was reported');
  return deepFreeze(config);
}
