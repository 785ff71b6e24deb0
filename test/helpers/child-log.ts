/** The JSON log lines of a camprobe child process, and a way to wait for one. */
import type { ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export type LogLine = Record<string, unknown>;

export interface ChildLog {
  /** Every JSON line so far. */
  readonly lines: LogLine[];
  /** The first line (past or future) `pred` accepts; rejects if the child exits first. */
  waitFor(pred: (l: LogLine) => boolean): Promise<LogLine>;
}

/** The child's JSON log lines, and a way to wait for one (rejecting if the child exits first). */
export function logLines(child: ChildProcessByStdio<null, Readable, Readable>): ChildLog {
  const lines: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  let exited: Error | undefined;
  const failAll: Array<(e: Error) => void> = [];
  child.once('exit', (code) => {
    exited = new Error(`camprobe exited (${code}) before the expected log line: ${stderr}`);
    for (const f of failAll) f(exited);
  });
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of waiters.splice(0)) (w.pred(line) ? w.resolve(line) : waiters.push(w));
  });
  return {
    lines,
    waitFor(pred: (l: LogLine) => boolean): Promise<LogLine> {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      if (exited) return Promise.reject(exited);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        failAll.push(reject);
      });
    },
  };
}
