/**
 * The status page's files, read once into memory: the HTML and CSS as written
 * (src/status/static/, shipped as they are: package.json "files") and the page's script
 * as compiled by tsc (dist/src/status/client/*.js). Nothing is built at request time.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A file served as it is. */
export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** This module is dist/src/status/assets.js in the repository and in the package alike. */
const STATIC_DIR = fileURLToPath(new URL('../../../src/status/static/', import.meta.url));
const CLIENT_DIR = fileURLToPath(new URL('./client/', import.meta.url));

let cached: Map<string, Asset> | undefined;

/**
 * Every file of the page by the name it is served under (`index.html`, `status.css`,
 * `app.js`, …). Read on first use and kept; throws if the page's files are missing (a
 * broken build or package), which the first request to the page reports as a 500.
 */
export function statusAssets(): ReadonlyMap<string, Asset> {
  if (cached) return cached;
  const files = new Map<string, Asset>();
  const add = (dir: string, name: string) => {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type === undefined) return;
    const body = readFileSync(dir + name);
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  };
  for (const name of readdirSync(STATIC_DIR)) add(STATIC_DIR, name);
  for (const name of readdirSync(CLIENT_DIR)) if (name.endsWith('.js')) add(CLIENT_DIR, name);
  if (!files.has('index.html') || !files.has('app.js')) throw new Error(`the status page's files are missing from ${STATIC_DIR} or ${CLIENT_DIR}`);
  cached = files;
  return files;
}
