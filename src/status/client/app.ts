/**
 * The status page's script: polls `api/status` every few seconds (relative URLs, so the
 * page works behind a reverse proxy's path prefix too) and keeps one row per
 * (target, probe), most severe first. Rows are updated in place, so an expanded row stays
 * expanded and keyboard focus stays where it was.
 */
import type { ProbeState, ProbeStatus, StatusResponse } from '../wire.js';
import { fill, fmtTime } from './dom.js';
import { Row } from './row.js';
import { PROBE_STATES } from './state.js';

const POLL_MS = 5000;

const byId = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page lacks #${id}`);
  return el;
};

const list = byId('probes');
const summary = byId('summary');
const alertBox = byId('alert');
const connection = byId('connection');
const updated = byId('updated');
const empty = byId('empty');

const rows = new Map<string, Row>();
let revision = '';
/** The server's clock minus ours, from the latest fresh answer. */
let skewMs = 0;
let lastGoodMs: number | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let inFlight = false;

const severity = (s: ProbeState) => PROBE_STATES.indexOf(s);
const keyOf = (p: ProbeStatus) => JSON.stringify([p.target, p.probe]);

function render(data: StatusResponse): void {
  const now = Date.now() + skewMs;
  const ordered = [...data.probes].sort((a, b) => severity(a.state) - severity(b.state));
  const seen = new Set<string>();
  for (const p of ordered) {
    const key = keyOf(p);
    seen.add(key);
    let row = rows.get(key);
    if (row === undefined) {
      row = new Row(p);
      rows.set(key, row);
    }
    row.update(p, now);
  }
  for (const [key, row] of rows) {
    if (!seen.has(key)) {
      row.el.remove();
      rows.delete(key);
    }
  }
  placeRows(ordered.map((p) => rows.get(keyOf(p))!.el));
  empty.hidden = ordered.length > 0;
  showCounts(data.counts);
}

/** Puts the rows in order, moving nodes only when the order changed, and keeps the focus where it was. */
function placeRows(wanted: HTMLElement[]): void {
  const current = [...list.children];
  if (current.length === wanted.length && wanted.every((el, i) => current[i] === el)) return;
  const focused = document.activeElement;
  list.append(...wanted);
  if (focused instanceof HTMLElement && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
}

/** The counts, announced politely when they change; a security finding also as an alert. */
function showCounts(counts: Record<ProbeState, number>): void {
  const text = PROBE_STATES.map((s) => `${counts[s]} ${s}`).join(' · ');
  if (summary.textContent !== text) summary.textContent = text;
  const security = counts.security;
  alertBox.hidden = security === 0;
  const alertText = `⚠ Security: ${security} ${security === 1 ? 'probe reports' : 'probes report'} a protected method answering a caller it must refuse, or a refusal that could not be confirmed. Listed first.`;
  if (security > 0 && alertBox.textContent !== alertText) alertBox.textContent = alertText;
}

function showConnection(problem: string | undefined): void {
  connection.hidden = problem === undefined;
  if (problem === undefined) return;
  const since = lastGoodMs === undefined ? '' : ` The page shows the state of ${fmtTime(lastGoodMs)}.`;
  fill(connection, `${problem}${since}`);
}

async function poll(): Promise<void> {
  timer = undefined;
  if (inFlight) return;
  inFlight = true;
  try {
    const res = await fetch('api/status', { cache: 'no-cache', headers: { accept: 'application/json' } });
    if (res.status === 401) return showConnection('Not authorized: reload the page to sign in again.');
    if (!res.ok) throw new Error(`camprobe answered HTTP ${res.status}`);
    const data = (await res.json()) as StatusResponse;
    if (data.revision !== revision) {
      // A revalidated (304) answer is the same body as before: its clock is old.
      skewMs = data.generatedAtMs - Date.now();
      revision = data.revision;
      render(data);
    } else {
      for (const row of rows.values()) row.tick(Date.now() + skewMs);
    }
    lastGoodMs = Date.now();
    updated.textContent = `Updated ${fmtTime(lastGoodMs)}; refreshes every ${POLL_MS / 1000} s.`;
    showConnection(undefined);
  } catch (err) {
    showConnection(`Cannot reach camprobe (${err instanceof Error ? err.message : String(err)}); retrying every ${POLL_MS / 1000} s.`);
  } finally {
    inFlight = false;
    schedule();
  }
}

function schedule(): void {
  if (timer === undefined && !document.hidden) timer = setTimeout(() => void poll(), POLL_MS);
}

// Hidden tabs do not poll; coming back refreshes at once.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  clearTimeout(timer);
  timer = undefined;
  void poll();
});

void poll();
