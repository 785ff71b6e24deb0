/**
 * A JSON-RPC 2.0 client over one WebSocket, built for probing rather than for
 * applications: every phase of the connection is timed, every way the server can
 * misbehave ends in a classified {@link ProbeError}, and nothing outlives `close()`.
 */
import { promises as dnsPromises, type LookupAddress } from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import WebSocket, { type RawData } from 'ws';
import { ProbeError, type StepName } from '../core/outcome.js';
import { classifyNetError } from './net-errors.js';
import type { TlsOptions } from './tls.js';

export type { TlsOptions } from './tls.js';

export type ConnectPhase = Extract<StepName, 'dns' | 'connect' | 'tls' | 'upgrade'>;


/** Resolves a host name to addresses: a seam so tests need no real DNS. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface ConnectOptions {
  url: string;
  /** Aborting it ends the connection attempt and every pending call. */
  signal: AbortSignal;
  maxFrameBytes: number;
  closeTimeoutMs: number;
  tls?: TlsOptions;
  /** Called once per finished phase; `start` is a performance.now() timestamp. */
  onPhase?: (phase: ConnectPhase, start: number, durationMs: number, ok: boolean) => void;
  resolver?: Resolver;
}

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcResponse = { ok: true; result: unknown } | { ok: false; error: RpcErrorObject };

export interface Notification {
  method: string;
  params?: unknown;
}

/** Counters of what the server sent besides the responses we waited for. */
export interface ConnectionStats {
  notifications: number;
  /** Responses to an id we had already completed (a duplicate). */
  duplicates: number;
  /** Server-to-client requests (method and id), which this client does not serve. */
  serverRequests: number;
}

/** Largest number of calls in flight on one connection; probes call one at a time. */
const MAX_PENDING = 16;

const defaultResolver: Resolver = (hostname) => dnsPromises.lookup(hostname, { all: true });

interface Pending {
  resolve: (r: RpcResponse) => void;
  reject: (e: ProbeError) => void;
}

/**
 * Opens a WebSocket to `opts.url`, timing DNS, TCP connect, TLS and the upgrade.
 * Fails with a ProbeError whose reason names what went wrong.
 */
export async function connectRpc(opts: ConnectOptions): Promise<RpcConnection> {
  throwIfAborted(opts.signal);
  const url = new URL(opts.url);
  const secure = url.protocol === 'wss:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const family = net.isIP(hostname); // an address needs no lookup, nor a dns step
  const addresses = family !== 0 ? [{ address: hostname, family }] : await resolve(hostname, opts);

  return new Promise<RpcConnection>((resolvePromise, rejectPromise) => {
    // The phase in progress; undefined once the upgrade response has arrived.
    let phase: ConnectPhase | undefined = 'connect';
    let phaseStart = performance.now();
    const endPhase = (ok: boolean, next?: ConnectPhase) => {
      const now = performance.now();
      if (phase) opts.onPhase?.(phase, phaseStart, now - phaseStart, ok);
      phase = next;
      phaseStart = now;
    };

    const ws = new WebSocket(opts.url, {
      maxPayload: opts.maxFrameBytes,
      perMessageDeflate: false,
      followRedirects: false,
      ...(secure && opts.tls ? opts.tls : {}),
      createConnection: (options: net.NetConnectOpts & tls.ConnectionOptions) => {
        // Changed in place, as ws's own connector does (http made it for this connection):
        // a copy of its few dozen keys was a cost every run paid. `path` is the URL's path
        // here; to net it would name a Unix socket.
        const connectOptions = Object.assign(options, {
          path: undefined,
          // The name was resolved (and timed) above; hand the addresses to net so it does
          // not look them up again, and let it try each family in turn.
          lookup: pinnedLookup(addresses),
          autoSelectFamily: true,
        });
        if (secure) {
          const socket = tls.connect(Object.assign(connectOptions, { servername: net.isIP(hostname) ? '' : hostname }));
          socket.once('connect', () => endPhase(true, 'tls'));
          socket.once('secureConnect', () => endPhase(true, 'upgrade'));
          return socket;
        }
        const socket = net.connect(connectOptions as net.NetConnectOpts);
        socket.once('connect', () => endPhase(true, 'upgrade'));
        return socket;
      },
    } as WebSocket.ClientOptions);

    let settled = false;
    const fail = (err: ProbeError) => {
      if (settled) return;
      settled = true;
      err.step = phase ?? 'upgrade';
      endPhase(false);
      opts.signal.removeEventListener('abort', onAbort);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      rejectPromise(err);
    };
    const onAbort = () => fail(abortError(opts.signal));
    opts.signal.addEventListener('abort', onAbort, { once: true });

    ws.once('unexpected-response', (req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      req.destroy();
      fail(new ProbeError('upgrade_rejected', `WebSocket upgrade refused with HTTP ${status}`));
    });
    ws.once('upgrade', () => endPhase(true));
    ws.once('error', (err: NodeJS.ErrnoException) => fail(classifyWsError(err, phase ?? 'upgrade')));
    ws.once('close', (code: number) => fail(new ProbeError('closed', `connection closed during the handshake (code ${code})`)));
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      ws.removeAllListeners();
      resolvePromise(new RpcConnection(ws, opts));
    });
  });
}

/** Looks a host name up, timed as the dns step. */
async function resolve(hostname: string, opts: ConnectOptions): Promise<LookupAddress[]> {
  const start = performance.now();
  const resolver = opts.resolver ?? defaultResolver;
  try {
    const addresses = await raceAbort(resolver(hostname), opts.signal);
    if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
    opts.onPhase?.('dns', start, performance.now() - start, true);
    return addresses;
  } catch (err) {
    opts.onPhase?.('dns', start, performance.now() - start, false);
    if (err instanceof ProbeError) {
      err.step = 'dns';
      throw err;
    }
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ProbeError('dns', `cannot resolve ${hostname}: ${code}`, { step: 'dns' });
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function pinnedLookup(addresses: LookupAddress[]) {
  return (_hostname: string, options: { all?: boolean | undefined }, callback: LookupCallback) => {
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

/** The WebSocket-specific cases first, then the rules every network probe shares. */
function classifyWsError(err: NodeJS.ErrnoException, phase: ConnectPhase): ProbeError {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return new ProbeError('protocol_error', 'frame larger than the configured maximum');
  const known = classifyNetError(err, phase === 'tls');
  if (known) return known;
  if (phase === 'upgrade') return new ProbeError('upgrade_rejected', `WebSocket upgrade failed: ${err.code || err.message}`);
  return new ProbeError('connect_error', `connection failed: ${err.code || err.message}`);
}

function abortError(signal: AbortSignal): ProbeError {
  const reason: unknown = signal.reason;
  if (reason instanceof ProbeError) return new ProbeError(reason.reason, reason.message);
  return new ProbeError('timeout', 'aborted');
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError(signal);
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((res, rej) => {
    const onAbort = () => rej(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        res(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        rej(e);
      },
    );
  });
}

/** Why a connection can no longer be used. */
export type Broken = Pick<ProbeError, 'reason' | 'message'>;

/** One open JSON-RPC connection. Create with {@link connectRpc}. */
export class RpcConnection {
  readonly stats: ConnectionStats = { notifications: 0, duplicates: 0, serverRequests: 0 };
  private readonly ws: WebSocket;
  private readonly closeTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly signal: AbortSignal;
  private readonly pending = new Map<number, Pending>();
  private readonly completed = new Set<number>();
  private nextId = 1;
  /** Set once the connection can no longer be trusted; every later call fails with it. */
  private broken: Broken | undefined;
  private closing: Promise<void> | undefined;
  private notificationListener: ((n: Notification) => void) | undefined;
  private readonly endListeners: Array<(why: Broken) => void> = [];
  /** Epoch ms of the last WebSocket ping frame from the server; undefined before the first. */
  lastServerPingAtMs: number | undefined;

  constructor(ws: WebSocket, opts: ConnectOptions) {
    this.ws = ws;
    this.closeTimeoutMs = opts.closeTimeoutMs;
    this.maxFrameBytes = opts.maxFrameBytes;
    this.signal = opts.signal;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    // ws answers pings itself; a held connection watches that they keep coming.
    ws.on('ping', () => {
      this.lastServerPingAtMs = Date.now();
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      this.breakWith(
        err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
          ? new ProbeError('protocol_error', `frame larger than the configured maximum of ${this.maxFrameBytes} bytes`)
          : new ProbeError('protocol_error', `WebSocket error: ${err.code ?? err.message}`),
      );
    });
    ws.on('close', (code: number, reason: Buffer) => {
      const text = reason.length > 0 ? `: ${reason.toString('utf8').slice(0, 120)}` : '';
      this.breakWith({ reason: 'closed', message: `connection closed by the service (code ${code}${text})` });
    });
    this.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Why the connection can no longer be used; undefined while it can. */
  get ended(): Broken | undefined {
    return this.broken;
  }

  /** Calls `listener` once, when the connection stops being usable (closed, broken, aborted). */
  onEnd(listener: (why: Broken) => void): void {
    if (this.broken) listener(this.broken);
    else this.endListeners.push(listener);
  }

  /**
   * Sends a WebSocket ping frame and resolves on its pong: a keepalive that needs nothing
   * of the JSON-RPC layer. Rejects when the connection ends first.
   */
  ping(): Promise<void> {
    if (this.broken) return Promise.reject(this.copyBroken());
    return new Promise<void>((resolve, reject) => {
      const onPong = () => {
        this.pongWaiters.delete(waiter);
        resolve();
      };
      const waiter = { onPong, reject };
      this.pongWaiters.add(waiter);
      if (this.pongWaiters.size === 1) this.ws.once('pong', () => this.firePongs());
      this.ws.ping();
    });
  }

  private readonly pongWaiters = new Set<{ onPong: () => void; reject: (e: ProbeError) => void }>();

  private firePongs(): void {
    for (const w of [...this.pongWaiters]) w.onPong();
  }

  /** Receives server notifications (messages with a method and no id). */
  onNotification(listener: (n: Notification) => void): void {
    this.notificationListener = listener;
  }

  /**
   * Sends one request and waits for its response. JSON-RPC error responses are values,
   * not exceptions; transport and protocol failures throw a ProbeError.
   */
  request(method: string, params?: Record<string, unknown>): Promise<RpcResponse> {
    if (this.broken) return Promise.reject(this.copyBroken());
    if (this.signal.aborted) return Promise.reject(abortError(this.signal));
    if (this.pending.size >= MAX_PENDING) {
      return Promise.reject(new ProbeError('internal', `more than ${MAX_PENDING} calls in flight on one connection`));
    }
    const id = this.nextId++;
    const message: Record<string, unknown> = { jsonrpc: '2.0', method, id };
    if (params !== undefined) message.params = params;
    return new Promise<RpcResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(message), (err) => {
        if (!err) return;
        // The server is closing the connection: its 'close' event brings the code and reason.
        if (this.ws.readyState === WebSocket.CLOSING) return;
        this.breakWith(new ProbeError('closed', `send failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
    });
  }

  /**
   * Like {@link request}, but an error response throws: `-32002` as `rate_limited`,
   * `-32001`/`-32003` as `auth_rejected`, any other as `rpc_error`.
   */
  async call(method: string, params?: Record<string, unknown>): Promise<unknown> {
    const response = await this.request(method, params);
    if (response.ok) return response.result;
    throw errorResponseToProbeError(method, response.error);
  }

  /** Close handshake with a short deadline, then terminate. Idempotent; never throws. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.signal.removeEventListener('abort', this.onAbort);
    this.closing = new Promise<void>((resolve) => {
      const ws = this.ws;
      if (ws.readyState === WebSocket.CLOSED) {
        resolve();
        return;
      }
      const timer = setTimeout(() => ws.terminate(), this.closeTimeoutMs);
      timer.unref();
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
        else ws.terminate();
      } catch {
        ws.terminate();
      }
    }).then(() => {
      this.breakWith({ reason: 'closed', message: 'connection closed by camprobe' });
      this.ws.removeAllListeners();
      this.ws.on('error', () => undefined);
    });
    return this.closing;
  }

  private readonly onAbort = () => {
    this.breakWith(abortError(this.signal));
    this.ws.terminate();
  };

  private copyBroken(): ProbeError {
    const b = this.broken!;
    return new ProbeError(b.reason, b.message);
  }

  /**
   * Takes the reason and message only: every run ends here once or twice, and an Error's
   * stack capture is wasted when no call is waiting (copyBroken makes the real one).
   */
  private breakWith(err: Broken): void {
    if (!this.broken) {
      this.broken = err;
      for (const w of this.pongWaiters) w.reject(this.copyBroken());
      this.pongWaiters.clear();
      for (const listener of this.endListeners.splice(0)) listener(err);
    }
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(this.copyBroken());
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.protocolError('binary frame received where a JSON-RPC text frame was expected');
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(rawToString(data));
    } catch {
      this.protocolError('frame is not valid JSON');
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      this.protocolError('frame is not a JSON-RPC object');
      return;
    }
    const m = msg as Record<string, unknown>;
    if (m.jsonrpc !== '2.0') {
      this.protocolError('message lacks "jsonrpc": "2.0"');
      return;
    }
    const hasId = 'id' in m && m.id !== null && m.id !== undefined;
    if (typeof m.method === 'string') {
      if (hasId) {
        this.stats.serverRequests++;
        return;
      }
      this.stats.notifications++;
      this.notificationListener?.({ method: m.method, params: m.params });
      return;
    }
    if (!hasId) {
      // A response with a null id answers a request the server could not parse.
      const err = parseErrorObject(m.error);
      this.protocolError(err ? `error response without id: ${err.code} ${err.message}` : 'response without id');
      return;
    }
    if (typeof m.id !== 'number' || !this.pending.has(m.id)) {
      if (typeof m.id === 'number' && this.completed.has(m.id)) {
        this.stats.duplicates++;
        return;
      }
      this.protocolError(`response with an id camprobe did not send (${JSON.stringify(m.id).slice(0, 40)})`);
      return;
    }
    const id = m.id;
    const hasResult = 'result' in m;
    const hasError = 'error' in m;
    if (hasResult === hasError) {
      this.protocolError('response must carry exactly one of "result" and "error"');
      return;
    }
    let response: RpcResponse;
    if (hasResult) {
      response = { ok: true, result: m.result };
    } else {
      const error = parseErrorObject(m.error);
      if (!error) {
        this.protocolError('error object must have an integer "code" and a string "message"');
        return;
      }
      response = { ok: false, error };
    }
    const p = this.pending.get(id)!;
    this.pending.delete(id);
    this.rememberCompleted(id);
    p.resolve(response);
  }

  private rememberCompleted(id: number): void {
    this.completed.add(id);
    // Only recent ids matter for spotting duplicates; keep the set bounded.
    if (this.completed.size > 64) {
      const oldest = this.completed.values().next().value as number;
      this.completed.delete(oldest);
    }
  }

  private protocolError(detail: string): void {
    this.breakWith(new ProbeError('protocol_error', detail));
  }
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function parseErrorObject(e: unknown): RpcErrorObject | undefined {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return undefined;
  const o = e as Record<string, unknown>;
  if (typeof o.code !== 'number' || !Number.isInteger(o.code) || typeof o.message !== 'string') return undefined;
  return 'data' in o ? { code: o.code, message: o.message, data: o.data } : { code: o.code, message: o.message };
}

/** Error codes of the service's auth family (see the API page: deployments use both). */
export const AUTH_ERROR_CODES: readonly number[] = [-32001, -32003];
export const RATE_LIMIT_CODE = -32002;

export function errorResponseToProbeError(method: string, error: RpcErrorObject): ProbeError {
  const text = `${method}: error ${error.code} ${error.message.slice(0, 200)}`;
  if (error.code === RATE_LIMIT_CODE) return new ProbeError('rate_limited', text);
  if (AUTH_ERROR_CODES.includes(error.code)) return new ProbeError('auth_rejected', text);
  return new ProbeError('rpc_error', text);
}
