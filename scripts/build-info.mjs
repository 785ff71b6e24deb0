// Records the commit the build was made from, so `--version` and camprobe_build_info can say it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

let commit = process.env.CAMPROBE_COMMIT ?? 'unknown';
if (commit === 'unknown') {
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // Not a git checkout (an npm tarball, a container build context): keep "unknown".
  }
}
mkdirSync('dist', { recursive: true });
writeFileSync('dist/build-info.json', `${JSON.stringify({ commit })}\n`);
