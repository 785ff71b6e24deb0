/**
 * http: GET one of the service's HTTP health endpoints (`/health/ready`, `/health/system`,
 * ...) and check the status and the JSON body. The body is read up to a bound; the
 * socket is never reused and is gone when the run ends.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { TargetConfig } from '../config/types.js';
import { assertionsSchema, checkAnswer, latencyProblem, latencySchema, withinLatency } from './assertions.js';
import { schemaProblem } from '../contract/user-schema.js';
import { loadTls } from '../rpc/tls.js';
import { classifyNetError } from '../rpc/net-errors.js';
import { defineProbe } from './types.js';
import { Type, jsonObject, type Static } from '../config/schema-parts.js';
import { ProbeError } from '../core/outcome.js';

const optionsSchema = Type.Object(
  {
    path: Type.String({ maxLength: 256, pattern: '^/[\\x21-\\x7e]*$', default: '/health/ready', 'x-message': 'must be a path starting with / (printable ASCII, no spaces)' }),
    /** `http(s)://host:port`; default: the target's host, http for ws and https for wss. */
    base_url: Type.Optional(Type.String({ maxLength: 256, pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL like http://camera-host:8003' })),
    /** Port of the derived base URL; default: the service's documented health port, 8003. */
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    status: Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), { minItems: 1, maxItems: 16, uniqueItems: true, default: [200] }),
    body_schema: Type.Optional(jsonObject()),
    assertions: Type.Optional(assertionsSchema),
    max_body_bytes: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 65_536 }),
    max_latency: Type.Optional(latencySchema),
  },
  { additionalProperties: false },
);

export type HttpOptions = Static<typeof optionsSchema>;

export const httpProbe = defineProbe(optionsSchema, {
  type: 'http',
  description: "GET an HTTP health endpoint of the service; check the status and the JSON body",
  validate(options) {
    const problems: Array<[string, string]> = [];
    if (options.base_url !== undefined) {
      if (options.port !== undefined) problems.push(['port', 'set either base_url or port, not both']);
      try {
        const url = new URL(options.base_url);
        if (url.username || url.password) problems.push(['base_url', 'must not contain user:password@']);
        if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
          problems.push(['base_url', 'must be scheme, host and port only (the path goes in path:)']);
        }
      } catch {
        problems.push(['base_url', 'must be a valid URL like http://camera-host:8003']);
      }
    }
    if (options.body_schema) problems.push(...schemaProblem('body_schema', options.body_schema));
    problems.push(...latencyProblem('max_latency', options.max_latency));
    return problems;
  },
  async run(ctx) {
    const o = ctx.options;
    const url = new URL(o.path, baseUrl(ctx.target, o));
    const what = `GET ${url.pathname}`;
    await ctx.step('call', async () => {
      const { status, body } = await withinLatency(what, o.max_latency, () => get(url, ctx.target, ctx.signal, o.max_body_bytes));
      if (!o.status.includes(status)) {
        throw new ProbeError('invalid_result', `${what}: HTTP ${status}, expected ${o.status.join(' or ')}${snippet(body)}`);
      }
      if (!o.body_schema && !o.assertions) return;
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        throw new ProbeError('invalid_result', `${what}: the body is not JSON${snippet(body)}`);
      }
      checkAnswer(json, `${what} body`, { schema: o.body_schema, schemaField: 'body_schema', assertions: o.assertions });
    });
  },
});

/** The service serves its health endpoints on their own port (the WebSocket API is on 8002). */
export const DOCUMENTED_HEALTH_PORT = 8003;

/** The health base URL: explicit, or the target's host and `port` (default 8003) with http(s) for ws(s). */
export function baseUrl(target: TargetConfig, o: Pick<HttpOptions, 'base_url' | 'port'>): string {
  if (o.base_url !== undefined) return o.base_url;
  const ws = new URL(target.url);
  const scheme = ws.protocol === 'wss:' ? 'https:' : 'http:';
  const host = ws.hostname.includes(':') ? `[${ws.hostname}]` : ws.hostname;
  return `${scheme}//${host}:${o.port ?? DOCUMENTED_HEALTH_PORT}`;
}

function get(url: URL, target: TargetConfig, signal: AbortSignal, maxBytes: number): Promise<{ status: number; body: string }> {
  const secure = url.protocol === 'https:';
  const tls = secure && target.url.startsWith('wss:') ? loadTls(target.url, target.tls) : undefined;
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).get(
      url,
      { agent: false, signal, headers: { accept: 'application/json', connection: 'close' }, ...(tls ?? {}) },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            request.destroy();
            reject(new ProbeError('protocol_error', `GET ${url.pathname}: body larger than max_body_bytes (${maxBytes})`));
            return;
          }
          chunks.push(chunk);
        });
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.once('error', (err) => reject(classify(err)));
      },
    );
    request.once('error', (err) => reject(classify(err)));
  });
}

function classify(err: NodeJS.ErrnoException): ProbeError {
  return classifyNetError(err) ?? new ProbeError('connect_error', `HTTP request failed: ${err.code || err.message}`);
}

/** A short, single-line excerpt of a body for failure details. */
function snippet(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  return text === '' ? '' : ` (body: ${text.length > 80 ? `${text.slice(0, 77)}...` : text})`;
}
