/**
 * The status page in a real browser: Debian's Chromium, driven by playwright-core, against
 * a real daemon (port 0) probing real simulators in every state the page distinguishes,
 * behind basic auth. Installed by scripts/ensure-test-tools.sh (and .ci/run) like the other
 * real tools; the suite is skipped, saying why, only where Chromium is not installed.
 *
 * `CAMPROBE_UPDATE_SCREENSHOT=1 npm test` also writes docs/status-page.png (the README's).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { RunRecord } from '../src/core/outcome.js';
import { startDaemon, type Daemon } from '../src/daemon.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import type { ProbeState } from '../src/status/board.js';
import { CONTENT_SECURITY_POLICY } from '../src/status/routes.js';
import { captureLogger, SECRET } from './helpers/harness.js';
import { closedPort } from './helpers/ws-server.js';

const CHROMIUM = '/usr/bin/chromium';
/** What the machine notes say Chromium needs here: no GPU, no sandbox as root, no calls home. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SKIP = existsSync(CHROMIUM) ? false : `Debian's chromium is not installed at ${CHROMIUM} (scripts/ensure-test-tools.sh installs it when run as root: apt-get install chromium)`;
const USER = 'oncall';
const PASSWORD = 'status-page-password-5d1c8e2a';
const SCREENSHOT = process.env['CAMPROBE_UPDATE_SCREENSHOT'] === '1' ? join(process.cwd(), 'docs/status-page.png') : undefined;
/** The service-controlled text the page must show as text, never as markup. */
const HOSTILE = '<img src=x onerror="window.pwned=1"><b>bold</b>';
/** Narrow access matrix (3 cells), all of it checked on every 1 s run. */
const MATRIX = '{ type: protected_rejection, method: get_server_info, cases: [none, forged], sweep: 1s }';

function configFile(urls: { healthy: string; exposed: string; slow: string; closed: string }): string {
  const path = join(mkdtempSync(join(tmpdir(), 'camprobe-status-page-')), 'camprobe.yaml');
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, port: 0, auth: { basic: { username: ${USER}, password: { env: STATUS_PASSWORD } } } }
log: { level: warn }
defaults: { interval: 1s, timeout: 800ms }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: edge-cam
    url: ${urls.healthy}
    probes: [{ type: auth_flow }, { type: camera_list }, ${MATRIX}]
  - name: lobby-cam
    url: ${urls.exposed}
    probes: [{ type: auth_flow }, ${MATRIX}]
  - name: garage-cam
    url: ${urls.closed}
    probes: [{ type: auth_flow }]
  - name: yard-cam
    url: ${urls.slow}
    probes: [{ type: camera_list, degraded_after: 10ms }]
`,
  );
  return path;
}

/** Resolves once the daemon's board shows `state` for (target, probe): already, or at a later run. */
function boardState(daemon: Daemon, target: string, probe: string, state: ProbeState): Promise<void> {
  return new Promise((resolve) => {
    const check = (run?: RunRecord) => {
      if ((run === undefined || (run.target === target && run.probe === probe)) && daemon.status.get(target, probe)?.state === state) {
        daemon.events.off('run', check);
        resolve();
      }
    };
    daemon.events.on('run', check);
    check();
  });
}

/** Each row's state and its button's accessible name, top to bottom. */
async function rowsShown(page: Page): Promise<Array<[string | null, string | null]>> {
  const out: Array<[string | null, string | null]> = [];
  for (const li of await page.locator('#probes > li').all()) out.push([await li.getAttribute('data-state'), await li.locator('button.summary').getAttribute('aria-label')]);
  return out;
}

/** The row of (target, probe), found by its button's accessible name. */
const rowOf = (page: Page, target: string, probe: string) => page.locator('#probes > li').filter({ has: page.getByRole('button', { name: `${target} / ${probe}:` }) });

describe('the status page in Chromium', { skip: SKIP, timeout: 120_000 }, () => {
  let healthy: Simulator;
  let exposed: Simulator;
  let slow: Simulator;
  let daemon: Daemon;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    healthy = await startSimulator({ jwtSecret: SECRET });
    exposed = await startSimulator({ jwtSecret: SECRET, faults: { exposeMethods: [{ method: 'get_server_info', credential: 'forged' }] } });
    slow = await startSimulator({ jwtSecret: SECRET, faults: { methodLatencyMs: { get_camera_list: 30 } } });
    const closed = `ws://127.0.0.1:${await closedPort()}/ws`;
    daemon = await startDaemon({
      configPath: configFile({ healthy: healthy.url, exposed: exposed.url, slow: slow.url, closed }),
      logger: captureLogger().logger,
      env: { CAMERA_SERVICE_JWT_SECRET: SECRET, STATUS_PASSWORD: PASSWORD },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1180, height: 900 } });
    // Before any script of the page: record every CSP violation the document reports.
    // (Code run in the page is given as text: this program is typed for Node, not the DOM.)
    await context.addInitScript({
      content: "window.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
    });
    page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
    // Every state on the board before the page opens, so its first answer has them all.
    await Promise.all([
      boardState(daemon, 'edge-cam', 'auth_flow', 'up'),
      boardState(daemon, 'edge-cam', 'camera_list', 'up'),
      boardState(daemon, 'edge-cam', 'protected_rejection', 'up'),
      boardState(daemon, 'lobby-cam', 'protected_rejection', 'security'),
      boardState(daemon, 'garage-cam', 'auth_flow', 'down'),
      boardState(daemon, 'yard-cam', 'camera_list', 'degraded'),
    ]);
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    await Promise.all([healthy?.close(), exposed?.close(), slow?.close()]);
  });

  it('without credentials the page, its files and its data answer 401 with a Basic challenge', async () => {
    for (const path of ['/', '/status/app.js', '/status/status.css', '/api/status']) {
      const res = await fetch(`${daemon.address}${path}`, { headers: { accept: 'text/html' } });
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="camprobe"/);
    }
    // Where a person gets the browser's basic-auth prompt, headless Chromium, having no
    // credentials to give, gives up on the challenge.
    const anonymous = await browser.newContext();
    try {
      await assert.rejects((await anonymous.newPage()).goto(daemon.address), /ERR_INVALID_AUTH_CREDENTIALS/);
    } finally {
      await anonymous.close();
    }
  });

  it('with basic auth: every state, security first and unmistakable, in words and symbols, with a strict CSP', async () => {
    const response = await page.goto(daemon.address);
    assert.equal(response?.status(), 200);
    assert.equal(response?.headers()['content-security-policy'], CONTENT_SECURITY_POLICY);
    await page.locator('#probes > li').nth(6).waitFor();
    assert.deepEqual(await rowsShown(page), [
      ['security', 'lobby-cam / protected_rejection: Security violation'],
      ['down', 'garage-cam / auth_flow: Down'],
      ['degraded', 'yard-cam / camera_list: Degraded'],
      ['up', 'edge-cam / auth_flow: Up'],
      ['up', 'edge-cam / camera_list: Up'],
      ['up', 'edge-cam / protected_rejection: Up'],
      ['up', 'lobby-cam / auth_flow: Up'],
    ]);
    const alert = page.getByRole('alert').filter({ hasText: 'Security' });
    assert.match((await alert.textContent()) ?? '', /Security: 1 probe reports a protected method/);
    assert.equal(await page.getByRole('status').textContent(), '1 security · 1 down · 1 degraded · 4 up');
    const security = rowOf(page, 'lobby-cam', 'protected_rejection');
    assert.match((await security.locator('.badge').textContent()) ?? '', /^⚠Security violation$/);
    assert.match((await security.locator('.note').textContent()) ?? '', /^security_violation at reject: exposed: get_server_info to forged token/);
    assert.match((await rowOf(page, 'garage-cam', 'auth_flow').locator('.note').textContent()) ?? '', /^connect_refused at connect/);
    assert.match((await rowOf(page, 'yard-cam', 'camera_list').locator('.note').textContent()) ?? '', /^degraded: the run took [\d.]+ ms, over degraded_after 10 ms$/);
    assert.match((await rowOf(page, 'edge-cam', 'auth_flow').locator('.since').textContent()) ?? '', /^since the first run, \d\d:\d\d:\d\d · \d+ s$/);
    // The timeline: bars of the last runs, and the same in words for a screen reader.
    assert.ok((await security.locator('svg rect.bar').count()) >= 1);
    assert.match((await security.locator('.timeline .sr-only').textContent()) ?? '', /^Last \d+ runs: \d+ security; median [\d.]+ ms, slowest/);
  });

  it('keyboard: Tab reaches the first row with a visible focus, Enter expands it, Enter on a run shows its steps', async () => {
    await page.keyboard.press('Tab'); // the skip link
    await page.keyboard.press('Tab');
    assert.equal(await page.locator(':focus').getAttribute('aria-label'), 'lobby-cam / protected_rejection: Security violation');
    assert.equal(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle'), 'solid', 'a visible focus');
    await page.keyboard.press('Enter');
    const row = rowOf(page, 'lobby-cam', 'protected_rejection');
    assert.equal(await row.locator('button.summary').getAttribute('aria-expanded'), 'true');
    const detail = row.locator('.detail');
    await detail.waitFor({ state: 'visible' });
    // The access matrix of the latest run: the exposed method named, the finding listed.
    const exposedLine = detail.locator('li[data-access="exposed"]');
    assert.match((await exposedLine.textContent()) ?? '', /^Exposed: answered a caller it must refuse \(1\): get_server_info$/);
    const finding = detail.locator('table.findings tbody tr').first();
    assert.deepEqual(await finding.locator('th, td').allTextContents(), ['get_server_info', 'forged token', 'per call (auth_token)', 'exposed', 'a result']);
    assert.match((await detail.locator('.sweep').textContent()) ?? '', /^Sweep: run 1 of 1, one sweep every 1 s; last complete sweep ended/);
    // The recent runs, fetched on demand; Tab into the first, Enter shows its steps.
    const firstRun = detail.locator('button.run').first();
    await firstRun.waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.locator(':focus').getAttribute('aria-controls'), await firstRun.getAttribute('aria-controls'));
    await page.keyboard.press('Enter');
    assert.equal(await firstRun.getAttribute('aria-expanded'), 'true');
    const steps = detail.locator('table.step-table').first();
    await steps.waitFor({ state: 'visible' });
    const names = await steps.locator('tbody th').allTextContents();
    // The positive control sends its credential per call: no authenticate step.
    for (const step of ['connect', 'upgrade', 'control', 'reject']) assert.ok(names.includes(step), `${step} in ${names.join(',')}`);
  });

  it('live: a fault injected into a simulator shows without a reload, and its text stays text', async () => {
    await page.evaluate('window.marker = 42');
    healthy.setFaults({ refusalErrors: [{ method: 'get_server_info', credential: 'forged', code: -32603, message: HOSTILE }] });
    const row = rowOf(page, 'edge-cam', 'protected_rejection');
    await page.locator('#probes > li[data-state="security"]').filter({ hasText: 'edge-cam' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate('window.marker'), 42, 'the same document: no reload');
    assert.equal(await row.getAttribute('data-state'), 'security');
    assert.match((await row.locator('.badge').textContent()) ?? '', /Security: rejection unconfirmed/);
    const note = (await row.locator('.note').textContent()) ?? '';
    assert.ok(note.includes(HOSTILE.slice(0, 40)), `the service's message shown as text: ${note}`);
    assert.equal(await page.locator('#probes img, #probes b').count(), 0, 'nothing from the service became markup');
    assert.equal(await page.evaluate('window.pwned'), undefined);
    assert.equal(await page.getByRole('status').textContent(), '2 security · 1 down · 1 degraded · 3 up');
    const rows = await rowsShown(page);
    assert.deepEqual(rows.slice(0, 2), [
      ['security', 'edge-cam / protected_rejection: Security: rejection unconfirmed'],
      ['security', 'lobby-cam / protected_rejection: Security violation'],
    ]);
  });

  it('reads on a phone: no sideways scrolling at 390 px', async () => {
    const phone = await context.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(daemon.address);
      await phone.locator('#probes > li').nth(6).waitFor();
      const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(overflow <= 0, `${overflow} px wider than the screen`);
      if (SCREENSHOT) await phone.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-phone.png') });
    } finally {
      await phone.close();
    }
  });

  it('shows no console error, page error, failed request or CSP violation, and takes its screenshot', async () => {
    assert.deepEqual(await page.evaluate('window.cspViolations'), []);
    assert.deepEqual(problems, []);
    const out = SCREENSHOT ?? join(mkdtempSync(join(tmpdir(), 'camprobe-shot-')), 'status-page.png');
    await page.screenshot({ path: out, fullPage: true });
    const png = readFileSync(out);
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    if (!SCREENSHOT) rmSync(out);
  });
});
