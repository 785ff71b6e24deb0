/**
 * The HTTP side of the daemon: scrape endpoint, health and readiness, and the recent
 * run history for debugging. Read-only; nothing here can change what is probed.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ProbeMetrics } from '../metrics/metrics.js';
import type { RunHistory } from '../metrics/history.js';
import type { StatusBoard } from '../status/board.js';
import { registerStatusRoutes } from '../status/routes.js';
import type { HttpAuthorizer } from './auth.js';
import { ChunkStream, sendStream } from './compression.js';

/** What the HTTP server reads; it owns none of it. */
export interface HttpDeps {
  metrics: ProbeMetrics;
  history: RunHistory;
  isReady: () => { ready: boolean; reason?: string };
  logger: Logger;
  /**
   * Access control for every route but `/healthz`; read on each request, so a reload
   * can change it. Absent or returning undefined: open.
   */
  authorizer?: () => HttpAuthorizer | undefined;
  /** Longest a request may take to arrive, and longest a connection may sit idle mid-request, ms. */
  requestTimeoutMs?: number;
  /** The status page's state; without it `/` is the plain-text route list only. */
  status?: StatusBoard;
}

/** Liveness stays open so an orchestrator can check it without holding the credential. */
const OPEN_PATHS = new Set(['/healthz']);

const INDEX = `camprobe

GET /            this list; the status page for a browser (Accept: text/html)
GET /metrics     Prometheus metrics (OpenMetrics when the Accept header asks for it)
GET /healthz     liveness: 200 while the process serves HTTP (never needs credentials)
GET /readyz      readiness: 200 when ready, 503 with a reason otherwise
GET /api/runs    recent runs, newest first: ?target=&probe=&failed=1&limit=1..1000
GET /api/status  the status page's data: every target × probe, its state and recent runs
`;

interface RunsQuery {
  target?: string;
  probe?: string;
  failed?: '0' | '1' | 'true' | 'false';
  limit?: number;
}

/**
 * Unknown query keys are dropped, not refused (Fastify's Ajv runs with
 * `removeAdditional`): a cache-buster such as `?_=123` should not break a dashboard link.
 */
const runsQuerySchema = {
  type: 'object',
  properties: {
    target: { type: 'string', minLength: 1, maxLength: 64 },
    probe: { type: 'string', minLength: 1, maxLength: 64 },
    failed: { type: 'string', enum: ['0', '1', 'true', 'false'] },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
  },
  additionalProperties: false,
} as const;

/** Builds the app, not listening: the caller does `.listen({ host, port })` and `.close()`. */
export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    // Typed as Fastify's logger so the app keeps the default FastifyInstance type.
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Scrapes every few seconds would flood an info log; requests are logged at debug below.
    logController: new LogController({ disableRequestLogging: true }),
    // No route takes a body: anything big is refused before it is buffered.
    bodyLimit: 16 * 1024,
    requestTimeout: deps.requestTimeoutMs ?? 10_000,
    // Inactivity during a request (a slow-loris client); idle keep-alive sockets follow
    // keepAliveTimeout instead.
    connectionTimeout: deps.requestTimeoutMs ?? 10_000,
    // Longer than the usual 60 s scrape interval, so Prometheus keeps reusing its connection.
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
  });
  addAuthHook(app, deps);
  addLogging(app);
  addScrapeRoutes(app, deps);
  addRunRoutes(app, deps);
  return app;
}

/** Refuses every request but OPEN_PATHS without a credential the authorizer accepts. */
function addAuthHook(app: FastifyInstance, deps: Pick<HttpDeps, 'authorizer'>): void {
  app.addHook('onRequest', async (req, reply) => {
    const authorizer = deps.authorizer?.();
    if (authorizer === undefined || OPEN_PATHS.has(req.url.split('?', 1)[0] ?? '')) return;
    let granted = false;
    try {
      granted = authorizer.check(req.headers.authorization);
    } catch (err) {
      // The credential file vanished or became unreadable: refuse, and say why in the log
      // (the message names the file or variable, never a value).
      req.log.error({ err: (err as Error).message }, 'cannot read the HTTP credential; refusing the request');
    }
    if (!granted) {
      return reply
        .code(401)
        .header('www-authenticate', authorizer.challenge)
        .send({ statusCode: 401, error: 'Unauthorized', message: 'credentials required' });
    }
  });
}

/** A debug line per request, and errors answered without leaking internals. */
function addLogging(app: FastifyInstance): void {
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug(
      { method: req.method, url: req.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  // Our own handler so 4xx stay at debug and 5xx never echo an internal message; only
  // method and URL are logged, never headers (Authorization, cookies).
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (statusCode >= 500) req.log.error({ err, method: req.method, url: req.url }, 'request failed');
    else req.log.debug({ code: err.code, message: err.message, method: req.method, url: req.url }, 'request refused');
    return reply.code(statusCode).send({
      statusCode,
      code: err.code,
      error: STATUS_CODES[statusCode],
      message: statusCode >= 500 ? 'internal error' : err.message,
    });
  });
}

/** The index (or the status page), the scrape endpoint, liveness and readiness. */
function addScrapeRoutes(app: FastifyInstance, deps: Pick<HttpDeps, 'metrics' | 'isReady' | 'status'>): void {
  if (deps.status) registerStatusRoutes(app, { board: deps.status, textIndex: INDEX });
  else app.get('/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(INDEX));

  // Streamed as it is rendered: the text of a thousand targets is never one string, and
  // the socket (or zlib, on another core) takes each chunk while the next is made.
  app.get('/metrics', async (req, reply) => {
    const accept = req.headers.accept;
    const body = new ChunkStream();
    deps.metrics.write(accept, body.sink).then(
      () => body.finish(),
      (err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    return sendStream(req, reply.type(deps.metrics.contentType(accept)).header('cache-control', 'no-store'), body);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const { ready, reason } = deps.isReady();
    if (ready) return { status: 'ready' };
    return reply.code(503).send({ status: 'not_ready', reason: reason ?? 'unknown' });
  });
}

/** The recent run history, for debugging. */
function addRunRoutes(app: FastifyInstance, deps: Pick<HttpDeps, 'history'>): void {
  app.get<{ Querystring: RunsQuery }>('/api/runs', { schema: { querystring: runsQuerySchema } }, async (req) => {
    const q = req.query;
    const runs = deps.history.list({
      ...(q.target !== undefined && { target: q.target }),
      ...(q.probe !== undefined && { probe: q.probe }),
      failedOnly: q.failed === '1' || q.failed === 'true',
      ...(q.limit !== undefined && { limit: q.limit }),
    });
    return { runs };
  });
}
