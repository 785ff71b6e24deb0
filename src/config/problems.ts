/**
 * Collecting what is wrong with a configuration: every problem once, under the path of the
 * field it is about, listed in document order, secrets redacted; and the error that lists them.
 */
import type { Document } from 'yaml';
import { Redactor } from '../core/secrets.js';
import { quote } from '../core/text.js';

/** Where a value sits in the document: keys and array indices. */
export type Path = Array<string | number>;

export interface SchemaProblem {
  /** Where the message is shown. */
  path: Path;
  message: string;
  /** Where the problem sits in the document, when more precise than `path` (an unknown key). */
  at?: Path;
}

/** The configuration is invalid; `problems` lists every problem found, one line each. */
export class ConfigError extends Error {
  readonly code: 'CAMPROBE_ERR_CONFIG' | 'CAMPROBE_ERR_CONFIG_FILE' = 'CAMPROBE_ERR_CONFIG';
  readonly problems: string[];

  constructor(source: string, problems: string[], message = `invalid configuration in ${source}:\n  - ${problems.join('\n  - ')}`) {
    super(message);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * The configuration file could not be read at all (missing, unreadable, a directory):
 * not an invalid configuration, and said so, with the file's absolute path.
 */
export class ConfigFileError extends ConfigError {
  override readonly code = 'CAMPROBE_ERR_CONFIG_FILE';
  /** The file's absolute path. */
  readonly path: string;
  /** The file-system error code: ENOENT, EACCES, EISDIR… */
  readonly fsCode: string | undefined;

  constructor(path: string, fsCode: string | undefined, problem: string) {
    super(path, [problem], `${fsCode === 'ENOENT' ? 'configuration file not found' : `cannot read the configuration file (${problem})`}: ${path}`);
    this.name = 'ConfigFileError';
    this.path = path;
    this.fsCode = fsCode;
  }
}

/** Problems keyed by path, kept once each, sorted by where they sit in the document. */
export class Problems {
  private readonly entries: Array<{ pos: number; text: string }> = [];
  private readonly seen = new Set<string>();
  /** Every path a problem was reported at. */
  private readonly reported = new Set<string>();
  /** Paths already reported as unusable: later problems under them would only be noise. */
  private readonly failed = new Set<string>();
  /** Secrets met while loading: a value interpolated from one must not be quoted back. */
  private readonly redactor = new Redactor();

  constructor(private readonly doc: Document) {}

  get size(): number {
    return this.entries.length;
  }

  add(path: Path, message: string, at: Path = path): void {
    for (let i = 0; i <= at.length; i++) if (this.failed.has(JSON.stringify(at.slice(0, i)))) return;
    const text = `${formatPath(path)}: ${message}`;
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.reported.add(JSON.stringify(path));
    this.entries.push({ pos: this.position(at), text });
  }

  addAll(list: readonly SchemaProblem[]): void {
    for (const p of list) this.add(p.path, p.message, p.at);
  }

  /** Whether a problem was reported at exactly `path`. */
  has(path: Path): boolean {
    return this.reported.has(JSON.stringify(path));
  }

  /** Reports `path` and silences anything reported under it afterwards. */
  fail(path: Path, message: string): void {
    this.add(path, message);
    this.failed.add(JSON.stringify(path));
  }

  secret(value: string): void {
    this.redactor.add(value);
  }

  hasSecret(text: string): boolean {
    return this.redactor.redact(text) !== text;
  }

  sorted(): string[] {
    return this.entries
      .map((e, i) => ({ ...e, i }))
      .sort((a, b) => a.pos - b.pos || a.i - b.i)
      .map((e) => this.redactor.redact(e.text));
  }

  /** Offset of the nearest node that exists in the document (defaults and merges have none). */
  private position(path: Path): number {
    for (let n = path.length; n > 0; n--) {
      const node: unknown = this.doc.getIn(path.slice(0, n), true);
      if (hasRange(node)) return node.range[0];
    }
    return 0;
  }
}

function hasRange(node: unknown): node is { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && 'range' in node && Array.isArray(node.range);
}

/** A path as the messages show it: `targets[0].probes[1].name`, `credentials["a b"]`. */
export function formatPath(path: Path): string {
  if (path.length === 0) return 'top level';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${quote(segment)}]`;
  }
  return out;
}
