/**
 * Targets and probes in words, for the line the daemon logs at start and for
 * `camprobe check-config`: what is probed, where, and how often, with nothing secret.
 */
import type { ProbeConfig, TargetConfig } from '../config/types.js';
import { formatDuration } from '../core/duration.js';
import { publicUrl, type Redactor } from '../core/secrets.js';

/** How many targets the start line lists; `check-config` lists them all. */
export const START_LINE_TARGETS = 20;

/** `auth_flow every 30s`, `first_camera (rpc) every 1m`, `nightly (rpc) on cron 0 0 3 * * *`. */
export function describeProbe(probe: ProbeConfig): string {
  return `${probeName(probe)} ${cadence(probe)}`;
}

/** `auth_flow`, or `first_camera (rpc)` when the name is not the type. */
export function probeName(probe: ProbeConfig): string {
  return probe.name === probe.type ? probe.name : `${probe.name} (${probe.type})`;
}

/** `every 30s`, or `on cron 0 0 3 * * *`. */
export function cadence(probe: ProbeConfig): string {
  return probe.schedule !== undefined ? `on cron ${probe.schedule}` : `every ${formatDuration(probe.interval_ms)}`;
}

/** The target's URL without user info or query (see publicUrl), and anything secret left in it removed. */
export function targetUrl(target: TargetConfig, redactor?: Redactor): string {
  const url = publicUrl(target.url);
  return redactor ? redactor.redact(url) : url;
}

/** `local ws://localhost:8002/ws: auth_flow every 30s, camera_list every 30s, …` */
export function describeTarget(target: TargetConfig, redactor?: Redactor): string {
  return `${target.name} ${targetUrl(target, redactor)}: ${target.probes.map(describeProbe).join(', ')}`;
}

/** The start line's list: the first targets described, then how many more there are. */
export function describeTargets(targets: readonly TargetConfig[], redactor?: Redactor): string[] {
  const shown = targets.slice(0, START_LINE_TARGETS).map((t) => describeTarget(t, redactor));
  const more = targets.length - shown.length;
  return more > 0 ? [...shown, `… and ${more} more targets (camprobe check-config lists them all)`] : shown;
}
