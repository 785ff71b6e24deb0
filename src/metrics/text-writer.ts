/**
 * Writes a scrape's text as UTF-8 bytes straight into chunks of about CHUNK_BYTES, which
 * go to a sink (the socket, zlib) as they fill. Strings built line by line and turned into
 * bytes afterwards cost more than the bytes: a 24 MB scrape made of ropes of 5 parts a
 * line spent more time in V8 flattening them than in making them (docs/performance.md,
 * change 10). Here the parts that repeat (family names, label sets, bucket bounds) are
 * encoded once and copied, and numbers are written digit by digit.
 */

/**
 * Takes the next chunk of a scrape's text; the chunk is the sink's to keep. A returned
 * promise is awaited before the writer goes on: the consumer's backpressure, or the turn
 * of the event loop it needs to take the chunk on.
 */
export type ChunkSink = (chunk: Buffer) => Promise<void> | undefined;

/**
 * About how many bytes a chunk holds. zlib takes one piece at a time on a thread of the
 * pool and hands it back through the event loop; in 64 KB pieces those hand-offs cost more
 * than the compression. 1 MB is about 1 ms of writing, so zlib compresses one chunk while
 * the next is written.
 */
export const CHUNK_BYTES = 1024 * 1024;

/** The longest a number takes as text (`-1.2345678901234567e-308`). */
const NUMBER_BYTES = 25;

/** ASCII (or UTF-8) text as bytes, for the parts of lines that repeat. */
export function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** See the module comment. Each chunk is a fresh Buffer; nothing outlives the scrape. */
export class TextWriter {
  private buf: Buffer;
  private pos = 0;
  /** The sink's answer to a chunk sent mid-item, for `flushIfFull` to hand back. */
  private turn: Promise<void> | undefined;

  constructor(private readonly sink: ChunkSink) {
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
  }

  /** `head`, `labels`, `tail`, the value and a newline: one sample line. */
  sample(head: Uint8Array, labels: Uint8Array, tail: Uint8Array, value: number): void {
    this.reserve(head.length + labels.length + tail.length + NUMBER_BYTES + 1);
    const buf = this.buf;
    buf.set(head, this.pos);
    buf.set(labels, this.pos + head.length);
    buf.set(tail, this.pos + head.length + labels.length);
    this.pos += head.length + labels.length + tail.length;
    this.number(value);
    buf[this.pos++] = 10;
  }

  /** Any text (a family's HELP and TYPE lines); UTF-8. */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /**
   * Hands the chunk to the sink once it is full, and what the sink answered (to await)
   * for this or an earlier chunk of the same item. Called between items.
   */
  flushIfFull(): Promise<void> | undefined {
    if (this.pos >= CHUNK_BYTES - 4096) this.send(CHUNK_BYTES);
    const turn = this.turn;
    this.turn = undefined;
    return turn;
  }

  /** Hands over what is left; the writer is done. */
  end(): Promise<void> | undefined {
    this.send(0);
    const turn = this.turn;
    this.turn = undefined;
    return turn;
  }

  /** Like `sample` with two label parts: the probe's, then one of the series' (`,step="call"`). */
  sample3(head: Uint8Array, labels: Uint8Array, more: Uint8Array, tail: Uint8Array, value: number): void {
    this.reserve(head.length + labels.length + more.length + tail.length + NUMBER_BYTES + 1);
    const buf = this.buf;
    let pos = this.pos;
    buf.set(head, pos);
    pos += head.length;
    buf.set(labels, pos);
    pos += labels.length;
    buf.set(more, pos);
    pos += more.length;
    buf.set(tail, pos);
    this.pos = pos + tail.length;
    this.number(value);
    buf[this.pos++] = 10;
  }

  /** A number as JavaScript writes it (`${v}`): digits for small non-negative integers, else String(v). */
  private number(v: number): void {
    const buf = this.buf;
    if (v >= 0 && v <= 0x7fffffff && (v | 0) === v) {
      if (v < 10) {
        buf[this.pos++] = 48 + v;
        return;
      }
      let digits = 1;
      for (let n = v; n >= 10; n = (n / 10) | 0) digits++;
      let pos = this.pos + digits;
      this.pos = pos;
      for (let n = v; n > 0; n = (n / 10) | 0) buf[--pos] = 48 + (n % 10);
      return;
    }
    const s = String(v);
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** Room for `n` more bytes: a line never straddles two chunks. */
  private reserve(n: number): void {
    if (this.pos + n > this.buf.length) this.send(n);
  }

  /** Sends the filled part and starts a chunk with room for at least `need` bytes (none when 0: the end). */
  private send(need: number): void {
    const full = this.buf.subarray(0, this.pos);
    this.buf = need === 0 ? Buffer.alloc(0) : Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need));
    this.pos = 0;
    if (full.length === 0) return;
    const turn = this.sink(full);
    if (turn !== undefined) this.turn = this.turn === undefined ? turn : this.turn.then(() => turn);
  }
}
