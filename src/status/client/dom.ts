/**
 * Building the page's DOM from untrusted data: text always goes in as text nodes (or
 * textContent), attributes are named by this code only, and nothing is ever parsed as
 * HTML. Plus the formatting of times and durations.
 */

type Child = Node | string | number | undefined | null | false;
type Attrs = Record<string, string | undefined>;

/** An HTML element with attributes (names fixed by the caller) and children as text or nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, as `h` for HTML. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) el.setAttribute(name, value);
}

/** `append` with strings makes text nodes: nothing from the service is parsed as markup. */
function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** "0.4 ms", "12.3 ms", "245 ms", "1.25 s". */
export function fmtMs(ms: number): string {
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time, with the date when it is not today. */
export function fmtTime(epochMs: number, nowMs: number = Date.now()): string {
  const d = new Date(epochMs);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (new Date(nowMs).toDateString() === d.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** How long ago, coarsely: "12 s", "5 min", "2 h 3 min", "3 d 4 h". */
export function fmtAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return `${hours} h ${min % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

let ids = 0;
/** A fresh element id, for `aria-controls` (never derived from names from the service). */
export function nextId(prefix: string): string {
  return `${prefix}-${++ids}`;
}
