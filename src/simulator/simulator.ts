/**
 * A faithful, fault-injectable fake of the camera service: JSON-RPC 2.0 over WebSocket
 * plus its HTTP health endpoints, as described in the API page (including the drift a real
 * deployment shows). camprobe's tests, demo and soak test run against it.
 *
 * It is deliberately self-contained (its own method→role matrix, its own JWT checks): if it
 * shared camprobe's code, a bug there would be mirrored here and never caught.
 */
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { faultCatalogue, isPlainObject, validateFaults } from './faults.js';
import type { CredentialClass, Role, SimulatorFaults } from './faults.js';
import { malformNotification, validateNotification } from './notifications.js';
import type { SimNotification } from './notifications.js';
import { RequestWindow } from './request-window.js';
import { hasExpired, inspectToken } from './tokens.js';
import type { BadToken, Credential } from './tokens.js';

export { validateFaults };

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

export interface SimCamera {
  device: string;
  status: 'CONNECTED' | 'DISCONNECTED' | 'ERROR';
  name?: string;
  resolution?: string;
  fps?: number;
}

export interface SimApiKey {
  key: string;
  role: Role;
}

export type { Role, SimulatorFaults };

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Default '/ws'; an upgrade on another path is accepted then closed with 1008. */
  path?: string;
  /** HS256 secret the JWTs are verified with. */
  jwtSecret: string;
  apiKeys?: SimApiKey[];
  /** Default: camera0 CONNECTED, camera1 DISCONNECTED. */
  cameras?: SimCamera[];
  /**
   * Files that exist at start (default none). `take_snapshot` and `start_recording` add
   * one; `delete_*` and `get_recording_info` need an existing name (else -32602).
   */
  recordings?: string[];
  snapshots?: string[];
  /** Merged over the documented matrix (so one entry can model drift); adding a method makes it known. */
  methodRoles?: Record<string, Role>;
  /** Default 100; beyond it an upgrade is accepted then closed with 1013. */
  maxConnections?: number;
  /** Default 0 = off; when > 0, per connection, error -32002 past the limit within a sliding minute. */
  rateLimitPerMinute?: number;
  faults?: SimulatorFaults;
  /**
   * Default 0 = off; when > 0, a `camera_status_update` is sent this often to every
   * connection with a valid session (an accepted credential, its JWT not expired), as a
   * correct service does; the `notifyUnauthenticated` fault sends it to every connection.
   */
  notificationIntervalMs?: number;
  /**
   * A correct service keeps idle connections alive: a WebSocket ping frame to every served
   * connection this often, counted from its upgrade (`ws` clients answer pong by
   * themselves). Default 30000; 0 = off. The `noServerPings` fault stops them.
   */
  pingIntervalMs?: number;
  /**
   * Monotonic milliseconds for the per-minute figures (rate limit, peakRequestsPerMinute).
   * Default performance.now; tests pass their own to move time without waiting.
   */
  clock?: () => number;
}

export interface SimulatorStats {
  /** WebSocket upgrades completed, including those closed at once (fault, wrong path, cap). */
  connections: number;
  /** Connections currently being served. */
  openConnections: number;
  /** Every frame received from a client, valid or not. */
  requests: number;
  /** Frames received per method name, whatever the outcome. */
  byMethod: Record<string, number>;
  /**
   * Calls per method that were answered with a result, i.e. that a real service would have
   * executed. Lets tests prove a side-effect method was never run (addition to the brief).
   */
  executedByMethod: Record<string, number>;
  /**
   * The most frames received within any sliding 60 s window, all connections together
   * (against a simulator, camprobe is the one client: this is what the documented per-client
   * limit of 60 requests per minute counts). Exact, to the millisecond.
   */
  peakRequestsPerMinute: number;
  /** Frames received in the last 60 s. */
  requestsLastMinute: number;
  /** The most connections served at the same time (as `openConnections` counts them). */
  peakOpenConnections: number;
  /** WebSocket ping frames sent, all connections together. */
  pingsSent: number;
  /** Connections dropped by the `dropAfterMs` fault. */
  drops: number;
  /**
   * Notification frames queued to a connection, one per recipient: the timer's, emitted
   * ones, and those of the `notificationFlood` fault.
   */
  notificationsSent: number;
}

export interface Simulator {
  /** ws://HOST:PORT/PATH */
  readonly url: string;
  /** http://HOST:PORT */
  readonly httpUrl: string;
  readonly port: number;
  /**
   * Replaces the whole fault set; takes effect for the next request/connection (`dropAfterMs`
   * also for the connections open now). Throws TypeError if invalid.
   */
  setFaults(faults: SimulatorFaults): void;
  getFaults(): SimulatorFaults;
  setCameras(cameras: SimCamera[]): void;
  /**
   * Sends the notification `{jsonrpc: "2.0", method, params}` now (no `params` member when
   * absent) to the connections that should get it: valid sessions, or every connection
   * under `notifyUnauthenticated`; none under `stallNotifications`; broken in shape under
   * `malformedNotifications`. Returns how many connections it was queued to. Throws
   * TypeError unless `method` is a string of 1 to 64 characters and `params` an object.
   * `POST /control/notify` does the same over HTTP.
   */
  notify(method: string, params?: Record<string, unknown>): number;
  /** Every count and peak since start, or since the last resetStats(). */
  stats(): SimulatorStats;
  /** Starts every count afresh (peakOpenConnections from the connections open now), e.g. for a budget test on a shared simulator. */
  resetStats(): void;
  /**
   * Terminates every client, closes the server, clears every timer (the status timer, each
   * connection's ping and drop timers, delayed answers). Resolves once the listening socket
   * is released. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * The documented method→role matrix, written here from the API page (shared/
 * camera-service-api.md) on purpose rather than imported from camprobe's own table
 * (src/config/methods.ts): the simulator stands for the real service, so a mistake in
 * camprobe's table must show up as a disagreement a test can catch, not be mirrored.
 * `get_recording_info` is viewer, as the docs say (a real deployment has it admin).
 */
export const SIM_DEFAULT_METHOD_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  ping: 'viewer',
  get_camera_list: 'viewer',
  get_camera_status: 'viewer',
  list_recordings: 'viewer',
  list_snapshots: 'viewer',
  get_streams: 'viewer',
  get_recording_info: 'viewer',
  take_snapshot: 'operator',
  start_recording: 'operator',
  stop_recording: 'operator',
  delete_recording: 'operator',
  delete_snapshot: 'operator',
  get_metrics: 'admin',
  get_status: 'admin',
  get_server_info: 'admin',
  get_storage_info: 'admin',
  set_retention_policy: 'admin',
  cleanup_old_files: 'admin',
});

/** Starts a simulator and resolves once it listens. */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const sim = new CameraServiceSimulator(options);
  await sim.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return sim;
}

// ---------------------------------------------------------------------------------------
// JSON-RPC plumbing
// ---------------------------------------------------------------------------------------

const CODE = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  AUTH: -32001,
  RATE_LIMITED: -32002,
  FORBIDDEN: -32003,
  CAMERA_NOT_FOUND: -32004,
} as const;

/** The usual message of each standard and documented code. */
const ERROR_MESSAGES: ReadonlyMap<number, string> = new Map([
  [CODE.PARSE_ERROR, 'Parse error'],
  [CODE.INVALID_REQUEST, 'Invalid Request'],
  [CODE.METHOD_NOT_FOUND, 'Method not found'],
  [CODE.INVALID_PARAMS, 'Invalid params'],
  [CODE.INTERNAL_ERROR, 'Internal error'],
  [CODE.AUTH, 'Authentication failed'],
  [CODE.RATE_LIMITED, 'Rate limit exceeded'],
  [CODE.FORBIDDEN, 'Insufficient permissions'],
  [CODE.CAMERA_NOT_FOUND, 'Camera not found'],
  [-32005, 'Recording already in progress'],
  [-32006, 'Media server unavailable'],
  [-32007, 'Insufficient storage'],
  [-32008, 'Capability not supported'],
]);

type RpcId = string | number | null;
interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}
type Outcome = { result: unknown } | { error: RpcError };
interface RpcResponse {
  jsonrpc: '2.0';
  id: RpcId;
  result?: unknown;
  error?: RpcError;
}

interface Call {
  id: RpcId;
  /** No `id` member: the client expects no answer. */
  notification: boolean;
  method: string;
  params: Record<string, unknown>;
}
type Parsed = { call: Call } | { invalid: RpcResponse; method?: string };

const fail = (code: number, message: string, data?: unknown): { error: RpcError } =>
  data === undefined ? { error: { code, message } } : { error: { code, message, data } };

const toResponse = (id: RpcId, outcome: Outcome): RpcResponse => ({ jsonrpc: '2.0', id, ...outcome });

function parseFrame(data: RawData, isBinary: boolean): Parsed {
  const invalid = (id: RpcId, outcome: Outcome, method?: string): Parsed =>
    method === undefined ? { invalid: toResponse(id, outcome) } : { invalid: toResponse(id, outcome), method };
  if (isBinary) return invalid(null, fail(CODE.INVALID_REQUEST, 'Invalid Request', 'binary frames are not supported'));
  let message: unknown;
  try {
    message = JSON.parse(rawToBuffer(data).toString('utf8'));
  } catch {
    return invalid(null, fail(CODE.PARSE_ERROR, 'Parse error'));
  }
  if (Array.isArray(message)) {
    return invalid(null, fail(CODE.INVALID_REQUEST, 'Invalid Request', 'batch requests are not supported'));
  }
  if (!isPlainObject(message)) return invalid(null, fail(CODE.INVALID_REQUEST, 'Invalid Request'));
  const hasId = Object.hasOwn(message, 'id');
  const id = hasId && isValidId(message.id) ? message.id : null;
  const method = typeof message.method === 'string' ? message.method : undefined;
  if (message.jsonrpc !== '2.0') return invalid(id, fail(CODE.INVALID_REQUEST, 'Invalid Request', 'jsonrpc must be "2.0"'), method);
  if (method === undefined) return invalid(id, fail(CODE.INVALID_REQUEST, 'Invalid Request', 'method must be a string'));
  if (hasId && !isValidId(message.id)) return invalid(null, fail(CODE.INVALID_REQUEST, 'Invalid Request', 'invalid id'), method);
  const params = message.params;
  if (params !== undefined && !isPlainObject(params) && !Array.isArray(params)) {
    return invalid(id, fail(CODE.INVALID_REQUEST, 'Invalid Request', 'params must be an object or an array'), method);
  }
  // Positional params cannot carry auth_token (the service only uses named params).
  return { call: { id, notification: !hasId, method, params: isPlainObject(params) ? params : {} } };
}

/** Applies the wire-level response faults that change the message text. */
function encodeResponse(response: RpcResponse, faults: SimulatorFaults): string {
  let wire: Record<string, unknown> = { ...response };
  if (faults.badErrorShape) wire = { jsonrpc: '2.0', id: response.id, error: response.error?.message ?? 'boom' };
  if (faults.wrongId) wire.id = otherId(response.id);
  if (faults.notJsonRpc) {
    const payload = 'result' in wire ? wire.result : wire.error;
    wire = { id: wire.id, data: payload };
  }
  const text = faults.notJson ? '<html><body><h1>502 Bad Gateway</h1></body></html>' : JSON.stringify(wire);
  return padTo(text, faults.oversizeFrameBytes ?? 0);
}

function otherId(id: RpcId): RpcId {
  if (typeof id === 'number') return id + 1_000_000;
  if (typeof id === 'string') return `${id}-other`;
  return 'unexpected';
}

/** Trailing whitespace keeps the JSON valid while making the frame as large as asked. */
function padTo(text: string, bytes: number): string {
  const missing = bytes - Buffer.byteLength(text);
  return missing > 0 ? text + ' '.repeat(missing) : text;
}

// ---------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------

const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const MAX_PAYLOAD_BYTES = 1024 * 1024;
const MAX_BODY_BYTES = 64 * 1024;
const RATE_WINDOW_MS = 60_000;
const MAX_COUNTED_METHODS = 256; // client-chosen names must not grow the stats without bound
const MAX_METHOD_NAME = 100;
const NOTIFY_BACKLOG_BYTES = 1024 * 1024; // a client that does not read is skipped, not buffered for
const TRICKLE_PIECES = 8;
const MAX_FILES = 1000; // per kind: recordings, snapshots
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's ceiling

const DEFAULT_CAMERAS: readonly SimCamera[] = [
  { device: 'camera0', status: 'CONNECTED', name: 'Camera 0', resolution: '1920x1080', fps: 30 },
  { device: 'camera1', status: 'DISCONNECTED', name: 'Camera 1', resolution: '1280x720', fps: 15 },
];

/**
 * A credential as the service sees it: accepted (with its role), or why it is not, or
 * `none` when nothing was presented.
 */
type Seen = Credential | BadToken | 'none';

interface Connection {
  ws: WebSocket;
  /**
   * What the last `authenticate` on this connection was given, kept even when it was
   * refused (so a later call on the "session" is judged as that class); `none` before any
   * attempt. A refused attempt ends any session opened before it. An accepted JWT keeps its
   * `exp`: past it, the session is `expired` (sessionCredential).
   */
  auth: Seen;
  /** Accept times within the rate window; never longer than the limit. */
  recent: number[];
  /** Frames are handled one after the other, so `authenticate` settles before the next call. */
  inbox: Promise<void>;
  /** Sends the ping frames (pingIntervalMs); cleared when the connection or the simulator closes. */
  pingTimer: NodeJS.Timeout | undefined;
  /** performance.now() when the upgrade completed: `dropAfterMs` counts from it. */
  upgradedAt: number;
  /** Drops the connection under `dropAfterMs`; cleared like pingTimer, and rescheduled with the faults. */
  dropTimer: NodeJS.Timeout | undefined;
  /** Writes are serialised, so a fragmented (trickled) message is never interleaved. */
  outbox: Promise<void>;
}

class CameraServiceSimulator implements Simulator {
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly path: string;
  private readonly secret: Uint8Array;
  private readonly apiKeys: Map<string, Role>;
  private readonly methodRoles: Map<string, Role>;
  private readonly maxConnections: number;
  private readonly rateLimitPerMinute: number;
  private readonly notificationIntervalMs: number;
  private readonly pingIntervalMs: number;
  private faults: SimulatorFaults;
  private cameras: SimCamera[];
  /** filename → creation time, oldest first. */
  private readonly recordings = new Map<string, string>();
  private readonly snapshots = new Map<string, string>();
  private fileSeq = 0;

  private readonly clients = new Set<Connection>();
  private readonly sockets = new Set<Duplex>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private notifyTimer: NodeJS.Timeout | undefined;
  private notifyTick = 0;
  /** Which broken shape the next notification gets under `malformedNotifications`. */
  private malformedTick = 0;
  private closing: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  private host = '127.0.0.1';
  private boundPort = 0;

  private connectionsTotal = 0;
  private requestsTotal = 0;
  private readonly byMethod = new Map<string, number>();
  private readonly executedByMethod = new Map<string, number>();
  private readonly clock: () => number;
  private readonly lastMinute = new RequestWindow(RATE_WINDOW_MS);
  private peakOpen = 0;
  private pingsSent = 0;
  private drops = 0;
  private notificationsSent = 0;

  constructor(options: SimulatorOptions) {
    if (typeof options.jwtSecret !== 'string' || options.jwtSecret.length === 0) {
      throw new TypeError('jwtSecret is required');
    }
    this.path = options.path ?? '/ws';
    this.secret = new TextEncoder().encode(options.jwtSecret);
    this.apiKeys = new Map((options.apiKeys ?? []).map((k) => [k.key, k.role]));
    this.methodRoles = new Map(Object.entries({ ...SIM_DEFAULT_METHOD_ROLES, ...options.methodRoles }));
    this.maxConnections = options.maxConnections ?? 100;
    this.rateLimitPerMinute = options.rateLimitPerMinute ?? 0;
    this.notificationIntervalMs = options.notificationIntervalMs ?? 0;
    this.pingIntervalMs = timerOption('pingIntervalMs', options.pingIntervalMs, 30_000);
    this.clock = options.clock ?? (() => performance.now());
    this.faults = {};
    this.setFaults(options.faults ?? {});
    this.cameras = (options.cameras ?? DEFAULT_CAMERAS).map((c) => ({ ...c }));
    const started = new Date().toISOString();
    for (const name of options.recordings ?? []) addFile(this.recordings, name, started);
    for (const name of options.snapshots ?? []) addFile(this.snapshots, name, started);

    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD_BYTES, perMessageDeflate: false });
    this.server = createServer((req, res) => this.onHttpRequest(req, res));
    this.server.on('connection', (socket) => this.track(socket));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  get port(): number {
    return this.boundPort;
  }
  get httpUrl(): string {
    return `http://${this.host}:${this.boundPort}`;
  }
  get url(): string {
    return `ws://${this.host}:${this.boundPort}${this.path}`;
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
    this.host = urlHost(host);
    if (this.notificationIntervalMs > 0) {
      this.notifyTimer = setInterval(() => this.broadcastStatus(), this.notificationIntervalMs);
      this.notifyTimer.unref();
    }
  }

  /** Every change of faults goes through here: `dropAfterMs` also applies to the connections open now. */
  private replaceFaults(faults: SimulatorFaults): void {
    this.faults = faults;
    for (const conn of this.clients) this.scheduleDrop(conn);
  }

  setFaults(faults: SimulatorFaults): void {
    const checked = validateFaults(faults, Object.fromEntries(this.methodRoles));
    if ('error' in checked) throw new TypeError(checked.error);
    this.replaceFaults(checked.faults);
  }

  getFaults(): SimulatorFaults {
    return structuredClone(this.faults);
  }

  setCameras(cameras: SimCamera[]): void {
    this.cameras = cameras.map((c) => ({ ...c }));
  }

  notify(method: string, params?: Record<string, unknown>): number {
    const checked = validateNotification(params === undefined ? { method } : { method, params });
    if ('error' in checked) throw new TypeError(checked.error);
    return this.emit(checked.notification);
  }

  stats(): SimulatorStats {
    return {
      connections: this.connectionsTotal,
      openConnections: this.clients.size,
      requests: this.requestsTotal,
      byMethod: Object.fromEntries(this.byMethod),
      executedByMethod: Object.fromEntries(this.executedByMethod),
      peakRequestsPerMinute: this.lastMinute.peak(),
      requestsLastMinute: this.lastMinute.count(this.clock()),
      peakOpenConnections: this.peakOpen,
      pingsSent: this.pingsSent,
      drops: this.drops,
      notificationsSent: this.notificationsSent,
    };
  }

  resetStats(): void {
    this.connectionsTotal = 0;
    this.requestsTotal = 0;
    this.byMethod.clear();
    this.executedByMethod.clear();
    this.lastMinute.reset();
    this.peakOpen = this.clients.size;
    this.pingsSent = 0;
    this.drops = 0;
    this.notificationsSent = 0;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private shutdown(): Promise<void> {
    clearInterval(this.notifyTimer);
    for (const conn of this.clients) stopConnectionTimers(conn);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const ws of this.wss.clients) ws.terminate();
    // Also covers hung upgrades and idle keep-alive HTTP sockets, which no one else owns.
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => {
      // Not chained on the WebSocket server's own 'close': in noServer mode ws emits it only
      // once every client has emitted 'close', and a client caught mid-upgrade when the
      // sockets were destroyed never does, which left the HTTP server listening for ever.
      this.wss.close();
      // 'close' comes before libuv has released the listening handle (at the end of that
      // loop turn): two setImmediate hops later it is, so nothing is left when this resolves.
      this.server.close(() => setImmediate(() => setImmediate(resolve)));
      this.server.closeAllConnections();
    });
  }

  // --- sockets, timers ----------------------------------------------------------------

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // Clients resetting the connection is routine for a fault simulator; ws and http report
    // what matters to their own listeners, this only keeps an unhandled 'error' from crashing.
    socket.on('error', () => undefined);
  }

  /** A timer close() can clear: nothing scheduled may outlive the simulator. */
  private later(ms: number, fn: () => void): void {
    if (this.closing) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  // --- WebSocket upgrade --------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const faults = this.faults;
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (faults.hangUpgrade) return; // the socket stays tracked, so close() destroys it
    if (faults.upgradeStatus !== undefined) {
      refuseUpgrade(socket, faults.upgradeStatus);
      return;
    }
    const path = new URL(req.url ?? '/', 'http://simulator').pathname;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.connectionsTotal += 1;
      ws.on('error', () => undefined); // e.g. a frame over maxPayload: ws closes with 1009 itself
      if (path !== this.path) closeWith(ws, 1008, 'wrong path');
      else if (faults.closeAfterUpgrade !== undefined) closeWith(ws, faults.closeAfterUpgrade, 'closed by fault');
      else if (this.clients.size >= this.maxConnections) closeWith(ws, 1013, 'too many connections');
      else this.serve(ws);
    });
  }

  private serve(ws: WebSocket): void {
    const conn: Connection = {
      ws,
      auth: 'none',
      recent: [],
      inbox: Promise.resolve(),
      outbox: Promise.resolve(),
      pingTimer: undefined,
      upgradedAt: performance.now(),
      dropTimer: undefined,
    };
    this.clients.add(conn);
    this.peakOpen = Math.max(this.peakOpen, this.clients.size);
    ws.on('close', () => {
      stopConnectionTimers(conn);
      this.clients.delete(conn);
    });
    if (this.pingIntervalMs > 0) conn.pingTimer = setInterval(() => this.ping(conn), this.pingIntervalMs);
    this.scheduleDrop(conn);
    ws.on('message', (data, isBinary) => {
      this.lastMinute.add(this.clock()); // on arrival: handling may wait for earlier frames
      conn.inbox = conn.inbox
        .then(() => this.onFrame(conn, data, isBinary))
        .catch(() => closeWith(ws, 1011, 'internal error')); // a bug: fail loudly, keep the chain alive
    });
  }

  /**
   * Sets the connection's drop for the current `dropAfterMs` (counted from its upgrade: at
   * once if that is past), or cancels it when the fault is not set.
   */
  private scheduleDrop(conn: Connection): void {
    clearTimeout(conn.dropTimer);
    conn.dropTimer = undefined;
    const after = this.faults.dropAfterMs;
    if (after === undefined || this.closing) return;
    const wait = Math.max(0, conn.upgradedAt + after - performance.now());
    conn.dropTimer = setTimeout(() => this.drop(conn), wait);
  }

  private drop(conn: Connection): void {
    conn.dropTimer = undefined;
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    this.drops += 1;
    closeWith(conn.ws, this.faults.dropCode ?? 1006, 'dropped by fault');
  }

  /** One keep-alive ping frame, unless the `noServerPings` fault (read at each tick) stops them. */
  private ping(conn: Connection): void {
    if (this.faults.noServerPings || conn.ws.readyState !== WebSocket.OPEN) return;
    conn.ws.ping();
    this.pingsSent += 1;
  }

  // --- requests -----------------------------------------------------------------------

  private async onFrame(conn: Connection, data: RawData, isBinary: boolean): Promise<void> {
    const faults = this.faults; // one consistent fault set per request
    this.requestsTotal += 1;
    const parsed = parseFrame(data, isBinary);
    const method = 'call' in parsed ? parsed.call.method : parsed.method;
    if (method !== undefined) bump(this.byMethod, method);

    if (faults.silent) return;
    if (faults.closeOnRequest !== undefined) {
      closeWith(conn.ws, faults.closeOnRequest, 'closed by fault');
      return;
    }
    if ('invalid' in parsed) {
      this.respond(conn, parsed.invalid, method, faults);
      return;
    }
    const { call } = parsed;
    let outcome: Outcome;
    try {
      outcome = faults.rateLimited || this.overRateLimit(conn)
        ? fail(CODE.RATE_LIMITED, 'Rate limit exceeded')
        : await this.dispatch(conn, call, faults);
    } catch (err) {
      // A bug in the simulator: answer like a server would rather than kill the connection.
      outcome = fail(CODE.INTERNAL_ERROR, 'Internal error', err instanceof Error ? err.message : String(err));
    }
    if ('result' in outcome) bump(this.executedByMethod, call.method);
    if (!call.notification) this.respond(conn, toResponse(call.id, outcome), call.method, faults);
  }

  private overRateLimit(conn: Connection): boolean {
    if (this.rateLimitPerMinute <= 0) return false;
    const now = this.clock();
    while (conn.recent.length > 0 && (conn.recent[0] ?? 0) <= now - RATE_WINDOW_MS) conn.recent.shift();
    if (conn.recent.length >= this.rateLimitPerMinute) return true;
    conn.recent.push(now);
    return false;
  }

  private async dispatch(conn: Connection, call: Call, faults: SimulatorFaults): Promise<Outcome> {
    if (faults.unknownMethods?.includes(call.method)) return fail(CODE.METHOD_NOT_FOUND, 'Method not found');
    if (call.method === 'authenticate') return this.authenticate(conn, call.params, faults);
    const needed = this.roleOf(call.method, faults);
    if (needed === undefined) return fail(CODE.METHOD_NOT_FOUND, 'Method not found');
    const denied = await this.authorize(conn, call, needed, faults);
    return denied ?? this.execute(call.method, call.params, faults);
  }

  /** The `methodRoles` fault first, then the table this simulator was started with. */
  private roleOf(method: string, faults: SimulatorFaults): Role | undefined {
    const drift = faults.methodRoles;
    if (drift && Object.hasOwn(drift, method)) return drift[method];
    return this.methodRoles.get(method);
  }

  /** Drift of a real deployment: a bad token on `authenticate` is -32003, not -32001. */
  private async authenticate(conn: Connection, params: Record<string, unknown>, faults: SimulatorFaults): Promise<Outcome> {
    const token = params.auth_token;
    const seen: Seen = token === undefined ? 'none' : await this.inspect(token);
    const accepted = typeof seen === 'object' && !faults.refuseValidCredentials;
    conn.auth = typeof seen === 'string' || accepted ? seen : 'none';
    if (faults.exposeProtected) {
      // The regression answers like a success, but opens no session for a bad token: clearing
      // the fault restores a correct service on the same connection.
      return authenticated(typeof seen === 'object' ? seen : { role: 'admin', method: 'jwt' });
    }
    if (accepted) return authenticated(seen);
    if (typeof seen === 'string') {
      const drift = accessFault(faults, 'authenticate', seen);
      if (drift === 'expose') return authenticated({ role: 'admin', method: 'jwt' }); // still no session
      if (drift) return drift;
    }
    if (seen === 'none') return fail(CODE.AUTH, 'Authentication required');
    return fail(CODE.FORBIDDEN, 'Authentication failed');
  }

  /** Returns the refusal, or undefined when the call may run. A per-call token wins over the session. */
  private async authorize(conn: Connection, call: Call, needed: Role, faults: SimulatorFaults): Promise<Outcome | undefined> {
    if (faults.exposeProtected) return undefined;
    const perCall = call.params.auth_token !== undefined;
    const seen = perCall ? await this.inspect(call.params.auth_token) : sessionCredential(conn.auth, faults);
    const access = accessOf(seen, needed);
    if (access === 'ok') return faults.refuseValidCredentials ? fail(CODE.AUTH, 'Authentication failed') : undefined;
    const drift = accessFault(faults, call.method, access);
    if (drift === 'expose') return undefined;
    if (drift) return drift;
    if (access === 'role_too_low' && typeof seen === 'object' && !faults.refuseValidCredentials) {
      return fail(CODE.FORBIDDEN, 'Insufficient permissions', { required_role: needed, role: seen.role });
    }
    // A bad per-call token failed; on the session, its token expired, or nothing valid was ever authenticated.
    if (perCall) return fail(CODE.AUTH, 'Authentication failed');
    return fail(CODE.AUTH, typeof conn.auth === 'object' && seen === 'expired' ? 'Token expired' : 'Authentication required');
  }

  private inspect(token: unknown): Promise<Credential | BadToken> {
    return inspectToken(token, this.secret, this.apiKeys);
  }

  /**
   * Runs an authorized call. Like a careful service, the methods that act on a camera or a
   * file check it exists (after authorization, so a refused caller learns nothing): an
   * unknown or missing one is an error, and nothing is executed.
   */
  private execute(method: string, params: Record<string, unknown>, faults: SimulatorFaults): Outcome {
    switch (method) {
      case 'ping':
        return { result: 'pong' };
      case 'get_camera_list':
        return { result: this.cameraList(faults) };
      case 'get_camera_status':
      case 'take_snapshot':
      case 'start_recording':
      case 'stop_recording':
        return this.cameraAction(method, params);
      case 'list_recordings':
        return { result: listing(this.recordings) };
      case 'list_snapshots':
        return { result: listing(this.snapshots) };
      case 'get_recording_info':
      case 'delete_recording':
      case 'delete_snapshot':
        return this.fileAction(method, params);
      default:
        return { result: plausibleResult(method, this) };
    }
  }

  private cameraList(faults: SimulatorFaults): unknown {
    const cameras = this.cameras.map(cameraView);
    const connected = cameras.filter((c) => c.status === 'CONNECTED').length;
    // The contract says total === cameras.length; the fault breaks exactly that.
    const total = faults.malformedCameraList ? cameras.length + 1 : cameras.length;
    return { cameras, total, connected };
  }

  /** `device` must name one of the cameras; a snapshot or a recording needs it CONNECTED. */
  private cameraAction(method: string, params: Record<string, unknown>): Outcome {
    const device = params.device;
    if (typeof device !== 'string') return fail(CODE.INVALID_PARAMS, 'Invalid params', 'device is required');
    const camera = this.cameras.find((c) => c.device === device);
    if (!camera) return fail(CODE.CAMERA_NOT_FOUND, 'Camera not found', { device: clip(device) });
    const capture = method === 'take_snapshot' || method === 'start_recording';
    if (capture && camera.status !== 'CONNECTED') return fail(CODE.CAMERA_NOT_FOUND, 'Camera disconnected', { device, status: camera.status });
    const now = new Date().toISOString();
    switch (method) {
      case 'take_snapshot': {
        const filename = this.newFile(this.snapshots, device, 'jpg', now);
        return { result: { device, filename, status: 'ok', timestamp: now } };
      }
      case 'start_recording': {
        const filename = this.newFile(this.recordings, device, 'mp4', now);
        return { result: { device, filename, status: 'RECORDING', start_time: now } };
      }
      case 'stop_recording':
        return { result: { device, status: 'STOPPED', end_time: now } };
      default:
        return { result: cameraView(camera) };
    }
  }

  /** `filename` must name an existing recording (or snapshot): -32602 otherwise. */
  private fileAction(method: string, params: Record<string, unknown>): Outcome {
    const filename = params.filename;
    if (typeof filename !== 'string') return fail(CODE.INVALID_PARAMS, 'Invalid params', 'filename is required');
    const files = method === 'delete_snapshot' ? this.snapshots : this.recordings;
    const created = files.get(filename);
    if (created === undefined) {
      const kind = method === 'delete_snapshot' ? 'snapshot' : 'recording';
      return fail(CODE.INVALID_PARAMS, 'Invalid params', { filename: clip(filename), reason: `${kind} not found` });
    }
    if (method === 'get_recording_info') return { result: { filename, file_size: 0, duration: 0, created_time: created } };
    files.delete(filename);
    return { result: { filename, deleted: true } };
  }

  /** Adds a file named after the device; the oldest goes past MAX_FILES, as retention would. */
  private newFile(files: Map<string, string>, device: string, extension: string, now: string): string {
    this.fileSeq += 1;
    const filename = `${device.replace(/^\/dev\//, '').replace(/[^A-Za-z0-9_-]/g, '_')}_${now.replace(/[:.]/g, '-')}_${this.fileSeq}.${extension}`;
    addFile(files, filename, now);
    return filename;
  }

  /** Used by plausibleResult for admin methods. */
  vitals(): { uptime: number; connections: number; requests: number; cameras: number } {
    return {
      uptime: Math.round((Date.now() - this.startedAt) / 1000),
      connections: this.clients.size,
      requests: this.requestsTotal,
      cameras: this.cameras.length,
    };
  }

  // --- responses and notifications ------------------------------------------------------

  private respond(conn: Connection, response: RpcResponse, method: string | undefined, faults: SimulatorFaults): void {
    const perMethod = method !== undefined && faults.methodLatencyMs && Object.hasOwn(faults.methodLatencyMs, method)
      ? (faults.methodLatencyMs[method] ?? 0)
      : 0;
    const wait = (faults.latencyMs ?? 0) + perMethod;
    // Latency delays only this response: later requests on the connection are not held up.
    const send = (): void => this.enqueue(conn, () => this.writeResponse(conn, response, faults));
    if (wait > 0) this.later(wait, send);
    else send();
  }

  private enqueue(conn: Connection, write: () => Promise<void> | void): void {
    conn.outbox = conn.outbox.then(write).catch(() => closeWith(conn.ws, 1011, 'internal error'));
  }

  private async writeResponse(conn: Connection, response: RpcResponse, faults: SimulatorFaults): Promise<void> {
    // A fault of its own: floods the connection that called, session or not.
    for (let i = 0; i < (faults.notificationFlood ?? 0); i += 1) {
      sendText(conn.ws, JSON.stringify(this.statusNotification(i)));
      this.notificationsSent += 1;
    }
    const text = encodeResponse(response, faults);
    const copies = faults.duplicateResponse ? 2 : 1;
    for (let i = 0; i < copies; i += 1) await this.writeFrame(conn.ws, text, faults);
  }

  private async writeFrame(ws: WebSocket, text: string, faults: SimulatorFaults): Promise<void> {
    const binary = faults.binaryFrame === true;
    const trickleMs = faults.trickleMs ?? 0;
    if (trickleMs <= 0) {
      if (ws.readyState === WebSocket.OPEN) ws.send(binary ? Buffer.from(text) : text, { binary });
      return;
    }
    const pieces = splitInPieces(Buffer.from(text), TRICKLE_PIECES);
    for (const [i, piece] of pieces.entries()) {
      if (ws.readyState !== WebSocket.OPEN) return;
      const fin = i === pieces.length - 1;
      ws.send(piece, { binary, fin });
      if (!fin) await this.delay(trickleMs);
    }
  }

  private statusNotification(n: number): SimNotification {
    const camera = this.cameras.length > 0 ? this.cameras[n % this.cameras.length] : undefined;
    const params = camera
      ? { device: camera.device, status: camera.status, name: camera.name ?? camera.device }
      : { device: 'camera0', status: 'DISCONNECTED' };
    return { jsonrpc: '2.0', method: 'camera_status_update', params: { ...params, timestamp: new Date().toISOString() } };
  }

  private broadcastStatus(): void {
    this.emit(this.statusNotification(this.notifyTick));
    this.notifyTick += 1;
  }

  /**
   * Queues a notification to every connection that should get it (shouldNotify), in the
   * shape the faults make of it; returns how many.
   */
  private emit(notification: SimNotification): number {
    const faults = this.faults;
    if (faults.stallNotifications) return 0;
    const wire = faults.malformedNotifications ? malformNotification(notification, this.malformedTick++) : notification;
    const text = JSON.stringify(wire);
    let sent = 0;
    for (const conn of this.clients) {
      if (!shouldNotify(conn, faults)) continue;
      this.enqueue(conn, () => sendText(conn.ws, text));
      sent += 1;
    }
    this.notificationsSent += sent;
    return sent;
  }

  // --- plain HTTP -----------------------------------------------------------------------

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://simulator').pathname;
    const route = `${req.method ?? 'GET'} ${path}`;
    switch (route) {
      case 'GET /health/ready': {
        const ready = !this.faults.healthNotReady && this.faults.upgradeStatus !== 503;
        sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready' });
        return;
      }
      case 'GET /health/system':
        sendJson(res, 200, { status: 'healthy', uptime: this.vitals().uptime, connections: this.clients.size });
        return;
      case 'GET /control/faults':
        // Indented: read with curl, each available fault on its own line.
        sendJson(res, 200, { current: this.faults, available: faultCatalogue() }, 2);
        return;
      case 'GET /control/stats':
        // What the clients did so far (counts since start or the last resetStats()).
        sendJson(res, 200, this.stats(), 2);
        return;
      case 'PUT /control/faults':
        readBody(req, res, (body) => this.putFaults(body, res));
        return;
      case 'POST /control/notify':
        readBody(req, res, (body) => this.postNotify(body, res));
        return;
      default:
        sendJson(res, 404, { error: 'not found' });
    }
  }

  /** `{"method": "...", "params": {...}}` → `{"sent": N}`, as notify() does; 400 with the reason otherwise. */
  private postNotify(body: string, res: ServerResponse): void {
    const input = jsonBody(body, res);
    if (input === NOT_JSON) return;
    const checked = validateNotification(input);
    if ('error' in checked) sendJson(res, 400, { error: checked.error });
    else sendJson(res, 200, { sent: this.emit(checked.notification) });
  }

  private putFaults(body: string, res: ServerResponse): void {
    const input = jsonBody(body, res);
    if (input === NOT_JSON) return;
    const checked = validateFaults(input, Object.fromEntries(this.methodRoles));
    if ('error' in checked) {
      sendJson(res, 400, { error: checked.error });
      return;
    }
    this.replaceFaults(checked.faults);
    sendJson(res, 200, { current: this.faults });
  }
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

const NOT_JSON = Symbol('not JSON');

/** A control request's body parsed, or NOT_JSON once it has been answered 400. */
function jsonBody(body: string, res: ServerResponse): unknown {
  try {
    return JSON.parse(body);
  } catch {
    sendJson(res, 400, { error: 'body must be JSON' });
    return NOT_JSON;
  }
}

function cameraView(camera: SimCamera): {
  device: string;
  status: SimCamera['status'];
  name: string;
  resolution: string;
  fps: number;
  streams: { rtsp: string; webrtc: string; hls: string };
} {
  const stream = encodeURIComponent(camera.device.replace(/^\/dev\//, ''));
  return {
    device: camera.device,
    status: camera.status,
    name: camera.name ?? camera.device,
    resolution: camera.resolution ?? '1920x1080',
    fps: camera.fps ?? 30,
    streams: {
      rtsp: `rtsp://127.0.0.1:8554/${stream}`,
      webrtc: `http://127.0.0.1:8889/${stream}/`,
      hls: `http://127.0.0.1:8888/${stream}/`,
    },
  };
}

/**
 * Small plausible answers, enough for a probe to see that a protected method answered.
 * `set_retention_policy` and `cleanup_old_files` only pretend: nothing is changed.
 */
function plausibleResult(
  method: string,
  sim: { vitals(): { uptime: number; connections: number; requests: number; cameras: number } },
): unknown {
  switch (method) {
    case 'get_streams':
      return [];
    case 'get_metrics': {
      const d = sim.vitals();
      return { active_connections: d.connections, total_requests: d.requests, average_response_time: 1, error_rate: 0 };
    }
    case 'get_status':
      return { status: 'healthy', uptime: sim.vitals().uptime, version: 'simulator' };
    case 'get_server_info':
      return { name: 'camera-service-simulator', version: 'simulator', capabilities: ['snapshots', 'recordings'] };
    case 'get_storage_info':
      return { total_space: 1e11, used_space: 1e10, available_space: 9e10, usage_percentage: 10 };
    default:
      return { status: 'ok' };
  }
}

/** `list_recordings` / `list_snapshots`: newest first, at most 100. */
function listing(files: ReadonlyMap<string, string>): unknown {
  const all = [...files].reverse();
  const page = all.slice(0, 100).map(([filename, created]) => ({ filename, file_size: 0, created_time: created }));
  return { files: page, total: all.length, limit: 100, offset: 0 };
}

function addFile(files: Map<string, string>, filename: string, created: string): void {
  files.delete(filename);
  files.set(filename, created);
  for (const oldest of files.keys()) {
    if (files.size <= MAX_FILES) break;
    files.delete(oldest);
  }
}

/** Client-chosen names echoed in an error are cut short. */
function clip(text: string): string {
  return text.length > MAX_METHOD_NAME ? `${text.slice(0, MAX_METHOD_NAME)}…` : text;
}

function authenticated(credential: Credential): Outcome {
  return { result: { authenticated: true, role: credential.role, auth_method: credential.method } };
}

/** What the access faults make of `method` called with a credential of class `access`, if anything. */
function accessFault(faults: SimulatorFaults, method: string, access: CredentialClass): 'expose' | { error: RpcError } | undefined {
  const error = faults.refusalErrors?.find((e) => e.method === method && e.credential === access);
  if (error) return fail(error.code, error.message ?? ERROR_MESSAGES.get(error.code) ?? 'Server error');
  return faults.exposeMethods?.some((e) => e.method === method && e.credential === access) ? 'expose' : undefined;
}

/**
 * What a session stands on now: the credential `authenticate` accepted, until its JWT's
 * `exp` passes (then `expired`, unless the `ignoreTokenExpiry` fault keeps it valid); else
 * the class of what `authenticate` was last given.
 */
function sessionCredential(auth: Seen, faults: SimulatorFaults): Seen {
  return typeof auth === 'object' && !faults.ignoreTokenExpiry && hasExpired(auth, Date.now()) ? 'expired' : auth;
}

/**
 * Whether a connection gets notifications: an open one with a valid session (one its calls
 * would be accepted on), or any open one under `notifyUnauthenticated`. A client that does
 * not read is skipped, not buffered for.
 */
function shouldNotify(conn: Connection, faults: SimulatorFaults): boolean {
  if (conn.ws.readyState !== WebSocket.OPEN || conn.ws.bufferedAmount > NOTIFY_BACKLOG_BYTES) return false;
  if (faults.notifyUnauthenticated) return true;
  return typeof sessionCredential(conn.auth, faults) === 'object' && !faults.refuseValidCredentials;
}

/** `ok` when the credential may call a method needing `needed`, else its refusal class. */
function accessOf(seen: Seen, needed: Role): 'ok' | CredentialClass {
  if (typeof seen === 'string') return seen;
  return ROLE_RANK[seen.role] < ROLE_RANK[needed] ? 'role_too_low' : 'ok';
}

/** A delay option: milliseconds setTimeout can wait (it fires at once beyond 2^31 - 1). */
function timerOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new TypeError(`${name} must be a number of milliseconds between 0 and ${MAX_TIMER_MS}`);
  }
  return value;
}

function stopConnectionTimers(conn: Connection): void {
  clearInterval(conn.pingTimer);
  clearTimeout(conn.dropTimer);
  conn.pingTimer = undefined;
  conn.dropTimer = undefined;
}

function refuseUpgrade(socket: Duplex, status: number): void {
  const reason = STATUS_CODES[status] ?? 'Error';
  const body = JSON.stringify({ error: reason });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** 1006 cannot be sent in a close frame: it means dropping the connection abruptly. */
function closeWith(ws: WebSocket, code: number, reason: string): void {
  if (code === 1006) ws.terminate();
  else if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
}

function sendText(ws: WebSocket, text: string): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown, indent?: number): void {
  const text = `${JSON.stringify(body, null, indent)}${indent ? '\n' : ''}`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a body of at most MAX_BODY_BYTES, answering 413 beyond. */
function readBody(req: IncomingMessage, res: ServerResponse, onBody: (body: string) => void): void {
  const tooLarge = (): void => {
    res.setHeader('connection', 'close');
    sendJson(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
  };
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    tooLarge();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) {
      chunks.push(chunk);
      return;
    }
    req.off('data', onData);
    req.resume(); // drain without keeping anything; 'connection: close' ends the socket after
    tooLarge();
  };
  req.on('data', onData);
  req.on('end', () => {
    if (size <= MAX_BODY_BYTES) onBody(Buffer.concat(chunks).toString('utf8'));
  });
}

function bump(counts: Map<string, number>, method: string): void {
  let key = method.length > MAX_METHOD_NAME ? method.slice(0, MAX_METHOD_NAME) : method;
  if (!counts.has(key) && counts.size >= MAX_COUNTED_METHODS) key = '(other)';
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function splitInPieces(data: Buffer, maxPieces: number): Buffer[] {
  const size = Math.max(1, Math.ceil(data.length / maxPieces));
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) pieces.push(data.subarray(offset, offset + size));
  return pieces.length > 0 ? pieces : [data];
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function isValidId(value: unknown): value is RpcId {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
