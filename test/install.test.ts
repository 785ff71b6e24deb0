/**
 * `npm ci`, as a new user types it, on the Node.js running the suite (the machine's 20, and
 * the pinned LTS in CI): it installs without an engine warning, and the Node.js lines the
 * README promises are the ones `engines` declares.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = process.cwd();
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };

describe('installing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-install-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`npm ci on Node.js ${process.version} prints no EBADENGINE warning`, () => {
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
    // The default log level, so npm's warnings are printed as a user would see them.
    const r = spawnSync('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /EBADENGINE/, r.stderr);
    // The override that makes it so: light-my-request (fastify's inject) on cookie 1.x, whose engines allow Node.js 18+.
    const fromLightMyRequest = createRequire(join(dir, 'node_modules/light-my-request/package.json'));
    assert.match((fromLightMyRequest('cookie/package.json') as { version: string }).version, /^1\./);
  });

  it('engines and the README agree on the supported Node.js lines', () => {
    assert.equal(PKG.engines.node, '>=20.0.0');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.match(readme, /On a machine with Node\.js 20 or later/);
    assert.ok(Number(process.versions.node.split('.')[0]) >= 20, 'the suite runs on a supported line');
  });
});
