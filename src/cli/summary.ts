/**
 * What `camprobe check-config` prints for a valid file: every target with its URL (without
 * user info or query), credential and probes with their cadence and timeout, where the
 * HTTP server listens, and the shard's share when sharded.
 */
import { selectShard, type Shard } from '../config/shard.js';
import type { Config } from '../config/types.js';
import { formatDuration } from '../core/duration.js';
import { cadence, probeName, targetUrl } from '../daemon/describe.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function configSummary(path: string, config: Config, shard: Shard): string {
  const probes = config.targets.reduce((n, t) => n + t.probes.length, 0);
  const lines = [`${path}: OK, ${plural(config.targets.length, 'target')}, ${plural(probes, 'probe')}`];
  for (const target of config.targets) {
    const insecure = target.url.startsWith('wss:') && target.tls.insecure_skip_verify ? ', TLS verification OFF' : '';
    lines.push(`  ${target.name}  ${targetUrl(target)}  (credential ${target.credential}${insecure})`);
    const rows = target.probes.map((p) => [probeName(p), cadence(p), `timeout ${formatDuration(p.timeout_ms)}`] as const);
    const nameWidth = Math.max(...rows.map(([name]) => name.length));
    const cadenceWidth = Math.max(...rows.map(([, every]) => every.length));
    for (const [name, every, timeout] of rows) lines.push(`    ${name.padEnd(nameWidth)}  ${every.padEnd(cadenceWidth)}  ${timeout}`);
  }
  const { host, port, auth } = config.server;
  const listen = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  lines.push(`server: ${listen} (${auth ? `${Object.keys(auth)[0] ?? ''} required` : 'no auth'}), log level ${config.log.level}`);
  if (shard.total > 1) {
    const owned = selectShard(config.targets, shard);
    lines.push(`shard ${shard.index}/${shard.total} owns ${owned.length} of ${config.targets.length} targets:`);
    for (const t of owned) lines.push(`  ${t.name}`);
  }
  return `${lines.join('\n')}\n`;
}
