/**
 * Everything the daemon derives from one configuration file, built whole before any of
 * it is used: a reload that fails half-way leaves nothing half-built behind.
 */
import type { Logger } from 'pino';
import { selectShard, type Shard } from '../config/shard.js';
import type { Config, TargetConfig } from '../config/types.js';
import type { Redactor } from '../core/secrets.js';
import { createHttpAuthorizer, type HttpAuthorizer } from '../http/auth.js';
import { loadConfigWithScripts, type ProbeTypes } from '../probes/load-config.js';
import type { Resolver } from '../rpc/client.js';
import { createRunner, type Runner } from '../runner/create-runner.js';

/** One configuration, and what the daemon built from it. */
export interface Loaded {
  config: Config;
  /** The shard in effect, and the configured targets it owns. */
  shard: Shard;
  targets: TargetConfig[];
  /** Runs this configuration's probes with its credentials and probe types. */
  runner: Runner;
  authorizer: HttpAuthorizer | undefined;
}

/** Where the configuration comes from, and what a load builds with. */
export interface LoadOptions {
  configPath: string;
  env: Record<string, string | undefined>;
  /** Probe types besides those of `probe_scripts_dir`. */
  probeTypes: ProbeTypes;
  /** Overrides the configuration's `shard`. */
  shard: Shard | undefined;
  resolver: Resolver | undefined;
  logger: Logger;
  /** One for the daemon's life: it learns the secrets of every configuration loaded. */
  redactor: Redactor;
}

/** Reads the configuration file (throwing ConfigError when it is invalid) and builds what it describes. */
export async function loadDaemonConfig(opts: LoadOptions): Promise<Loaded> {
  const { config, probeTypes } = await loadConfigWithScripts(opts.configPath, { env: opts.env, probeTypes: opts.probeTypes });
  const shard = opts.shard ?? config.shard;
  const targets = selectShard(config.targets, shard);
  const { logger, redactor, env, resolver } = opts;
  const runner = createRunner({ credentials: config.credentials, probeTypes, logger, redactor, env, resolver });
  const authorizer = config.server.auth ? createHttpAuthorizer(config.server.auth, redactor, env) : undefined;
  return { config, shard, targets, runner, authorizer };
}
