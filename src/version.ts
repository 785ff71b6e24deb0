/** Version and commit, for `--version` and `camprobe_build_info`. */
import { readFileSync } from 'node:fs';

function readJson(relative: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

// From dist/src/version.js, the package root is two levels up; build-info.json is written by the build.
const pkg = readJson('../../package.json');
const buildInfo = readJson('../build-info.json');

export const VERSION = typeof pkg?.version === 'string' ? pkg.version : '0.0.0';
export const COMMIT =
  process.env.CAMPROBE_COMMIT ?? (typeof buildInfo?.commit === 'string' ? buildInfo.commit : 'unknown');
