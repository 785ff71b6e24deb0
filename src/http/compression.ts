/**
 * gzip for the big answers (`/metrics`, `/api/status`) when the request's Accept-Encoding
 * allows it, with node:zlib directly: two routes, one coding, and the scrape is a stream
 * camprobe makes itself, so a plugin would add a dependency for a dozen lines.
 *
 * zlib runs on libuv's thread pool: while the main thread makes the next chunk of a
 * scrape, another core compresses the previous one. docs/performance.md (change 9) has
 * the measurements behind the level.
 */
import { Readable, pipeline } from 'node:stream';
import { createGzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CHUNK_BYTES, type ChunkSink } from '../metrics/text-writer.js';

/**
 * Level 1: on a 24 MB scrape it compresses at about 1 GB/s to 4.2 % of the text, where
 * level 6 takes four times as long for 3.6 %. A scrape is read once, on a local network.
 */
export const GZIP_LEVEL = 1;

/**
 * zlib's output buffer: a job on the thread pool ends when it is full. At level 1 a 1 MB
 * chunk of a scrape compresses to about 45 KB, so one job takes a whole chunk, instead of
 * three round trips through the event loop with the default 16 KB.
 */
const GZIP_CHUNK_BYTES = 128 * 1024;

const gzipAsync = promisify(gzip);

/**
 * Whether `header` (a request's Accept-Encoding) accepts gzip: `gzip` (or `x-gzip`) with a
 * q above 0, or else `*` with a q above 0. Absent, empty or `identity`: no.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let gzipQ: number | undefined;
  let anyQ: number | undefined;
  for (const range of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    const weight = Number.isNaN(q) ? 0 : q;
    if (coding === 'gzip' || coding === 'x-gzip') gzipQ = Math.max(gzipQ ?? 0, weight);
    else if (coding === '*') anyQ = weight;
  }
  return (gzipQ ?? anyQ ?? 0) > 0;
}

/** The response body of a scrape: chunks come in through `sink` as they are written. */
export class ChunkStream extends Readable {
  /**
   * Everyone waiting for the consumer to want more. A list: the writer may hand over a
   * second chunk before it awaits the first's answer (a chunk filled mid-item, then the
   * end), and a single slot would drop the first waiter, leaving the scrape hanging.
   */
  private readonly waiting: Array<() => void> = [];

  constructor() {
    // Two chunks ahead of the socket or zlib; beyond that the writer waits (sink).
    super({ highWaterMark: 2 * CHUNK_BYTES });
  }

  /** Takes a chunk; when the consumer is behind, a promise of when it wants more. Throws once the response is gone. */
  readonly sink: ChunkSink = (chunk) => {
    if (this.destroyed) throw new Error('the response was closed before the scrape was written');
    // A turn of the event loop either way: zlib (or the socket) takes the chunk on in it.
    if (this.push(chunk)) return new Promise<void>((resolve) => setImmediate(resolve));
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  };

  /** Ends the body after the last chunk. */
  finish(): void {
    this.push(null);
  }

  override _read(): void {
    this.wake();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.wake();
    callback(err);
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

/**
 * Sends `body` (a stream the caller feeds) gzipped when the request accepts it, as is
 * otherwise; either way the answer varies with Accept-Encoding. (`level` is for the
 * benchmark, which compares levels.)
 */
export function sendStream(req: FastifyRequest, reply: FastifyReply, body: Readable, level = GZIP_LEVEL): FastifyReply {
  reply.header('vary', 'accept-encoding');
  if (!acceptsGzip(req.headers['accept-encoding'])) return reply.send(body);
  // pipeline: an error on either side (the writer failing, the client leaving) ends both.
  const gzipped = pipeline(body, createGzip({ level, chunkSize: GZIP_CHUNK_BYTES }), () => undefined);
  return reply.header('content-encoding', 'gzip').send(gzipped);
}

/**
 * Sends `text` gzipped (on the thread pool, off the event loop) when the request accepts
 * it, as is otherwise; either way the answer varies with Accept-Encoding.
 */
export async function sendText(req: FastifyRequest, reply: FastifyReply, text: string): Promise<FastifyReply> {
  reply.header('vary', 'accept-encoding');
  if (!acceptsGzip(req.headers['accept-encoding'])) return reply.send(text);
  const gzipped = await gzipAsync(text, { level: GZIP_LEVEL });
  return reply.header('content-encoding', 'gzip').send(gzipped);
}
