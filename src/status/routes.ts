/**
 * The status page's routes, registered on camprobe's HTTP server (so behind its auth hook
 * like every route but /healthz): the page at `/` for browsers, its files under
 * `/status/`, and its data at `/api/status`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { statusAssets, type Asset } from './assets.js';
import type { StatusBoard } from './board.js';
import { sendText } from '../http/compression.js';

/**
 * Only camprobe's own files run and style the page: no inline script or style, no other
 * origin, no framing, no forms, no plugins.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** What the routes read. */
export interface StatusRouteDeps {
  board: StatusBoard;
  /** What `/` answers a client that does not ask for HTML (curl): the plain-text route list. */
  textIndex: string;
}

/** Adds `/` (negotiated), `/status/:file` and `/api/status` to `app`. */
export function registerStatusRoutes(app: FastifyInstance, deps: StatusRouteDeps): void {
  app.get('/', async (req, reply) => {
    if (!wantsHtml(req)) return reply.type('text/plain; charset=utf-8').header('vary', 'accept').send(deps.textIndex);
    return sendAsset(req, reply.header('vary', 'accept'), statusAssets().get('index.html'));
  });

  app.get<{ Params: { file: string } }>('/status/:file', async (req, reply) => {
    const asset = req.params.file === 'index.html' ? undefined : statusAssets().get(req.params.file);
    if (asset === undefined) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'no such file' });
    return sendAsset(req, reply, asset);
  });

  app.get('/api/status', async (req, reply) => {
    reply.header('cache-control', 'no-cache').header('etag', deps.board.etag());
    if (req.headers['if-none-match'] === deps.board.etag()) return reply.code(304).send();
    const { body, etag } = deps.board.snapshot();
    // The ETag is weak: the gzipped and the plain answer of a revision share it.
    return sendText(req, reply.header('etag', etag).type('application/json; charset=utf-8'), body);
  });
}

/** A browser navigating asks for text/html first; curl and Prometheus do not. */
function wantsHtml(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

/** A file of the page with its security headers; revalidated on every load (it is small). */
function sendAsset(req: FastifyRequest, reply: FastifyReply, asset: Asset | undefined): FastifyReply {
  if (asset === undefined) throw new Error('the status page is missing from this build');
  reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag);
  if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}
