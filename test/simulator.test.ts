import { startSimulatorCli } from './helpers/simulator-cli.js';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { RequestWindow } from '../src/simulator/request-window.js';
import { startSimulator, validateFaults } from '../src/simulator/simulator.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/simulator.js';

const SECRET = 'simulator-test-secret-0123456789abcdef';
const API_KEY = 'sim-api-key-operator';

// --- helpers -----------------------------------------------------------------------------

type Json = Record<string, unknown>;
interface Frame {
  text: string;
  isBinary: boolean;
}

/**
 * A raw `ws` client. Answers to pending calls are matched by id; every other frame
 * (notifications, stray or corrupted answers) is queued, so tests wait on events, never sleep.
 */
class TestClient {
  private readonly frames: Frame[] = [];
  private readonly waiters: ((frame: Frame) => void)[] = [];
  private readonly pending = new Map<unknown, (message: Json) => void>();
  private nextId = 1;
  readonly notifications: Json[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('error', () => undefined); // failures are asserted through 'close' and call results
    ws.on('message', (data, isBinary) => {
      const frame = { text: Buffer.isBuffer(data) ? data.toString('utf8') : String(data), isBinary };
      const message = parseObject(frame.text);
      const answer = message && this.pending.get(message.id);
      if (message && answer) {
        this.pending.delete(message.id);
        answer(message);
        return;
      }
      if (message && !('id' in message)) this.notifications.push(message);
      const waiter = this.waiters.shift();
      if (waiter) waiter(frame);
      else this.frames.push(frame);
    });
  }

  /** Frames received and not yet read. */
  queued(): number {
    return this.frames.length;
  }

  nextFrame(): Promise<Frame> {
    const frame = this.frames.shift();
    return frame ? Promise.resolve(frame) : new Promise((resolve) => this.waiters.push(resolve));
  }

  async nextJson(): Promise<Json> {
    return JSON.parse((await this.nextFrame()).text) as Json;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Sends a request and resolves with the answer carrying its id. */
  call(method: string, params?: Json): Promise<Json> {
    const id = this.nextId++;
    const answered = new Promise<Json>((resolve) => this.pending.set(id, resolve));
    this.send(params === undefined ? { jsonrpc: '2.0', method, id } : { jsonrpc: '2.0', method, params, id });
    return answered;
  }

  /** Resolves once the server has read everything sent before (a WebSocket ping round trip). */
  async flush(): Promise<void> {
    const pong = once(this.ws, 'pong');
    this.ws.ping();
    await pong;
  }

  closed(): Promise<number> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
    // Not events.once: it would reject on the 'error' that precedes some closes.
    return new Promise((resolve) => this.ws.once('close', (code: number) => resolve(code)));
  }
}

function parseObject(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

async function sim(t: TestContext, options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const s = await startSimulator({ jwtSecret: SECRET, apiKeys: [{ key: API_KEY, role: 'operator' }], ...options });
  t.after(() => s.close());
  return s;
}

/** A client that may be closed by the server at once: does not wait for 'open'. */
function rawClient(t: TestContext, url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): TestClient {
  const client = new TestClient(new WebSocket(url, options));
  t.after(async () => {
    if (client.ws.readyState === WebSocket.CLOSED) return;
    const closed = client.closed();
    client.ws.terminate();
    await closed;
  });
  return client;
}

async function open(t: TestContext, s: Simulator, path = ''): Promise<TestClient> {
  const client = rawClient(t, s.url + path);
  await once(client.ws, 'open');
  return client;
}

const now = (): number => Math.floor(Date.now() / 1000);

function claims(role: string): Json {
  return { user_id: 'probe', role, iat: now(), exp: now() + 300 };
}

function mint(payload: Json, secret = SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

function unsignedToken(payload: Json): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

function errorCode(response: Json): number | undefined {
  return (response.error as { code?: number } | undefined)?.code;
}

// --- authentication and methods ----------------------------------------------------------------

describe('authentication', () => {
  test('ping needs auth, then answers pong with a session and with a per-call token', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    const anonymous = await c.call('ping');
    assert.equal(errorCode(anonymous), -32001);
    assert.equal((anonymous.error as Json).message, 'Authentication required');

    const viewer = await mint(claims('viewer'));
    assert.equal((await c.call('ping', { auth_token: viewer })).result, 'pong');

    const auth = await c.call('authenticate', { auth_token: viewer });
    assert.deepEqual(auth.result, { authenticated: true, role: 'viewer', auth_method: 'jwt' });
    assert.equal((await c.call('ping')).result, 'pong');
  });

  test('an API key authenticates with its role', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    const auth = await c.call('authenticate', { auth_token: API_KEY });
    assert.deepEqual(auth.result, { authenticated: true, role: 'operator', auth_method: 'api_key' });
    assert.equal((await c.call('take_snapshot', { device: 'camera0' })).error, undefined);
    assert.equal(errorCode(await c.call('get_metrics')), -32003);
  });

  test('a JWT missing any required claim, or with an unknown role, is refused', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    for (const claim of ['user_id', 'role', 'iat', 'exp']) {
      const payload = claims('admin');
      delete payload[claim];
      const token = await mint(payload);
      assert.equal(errorCode(await c.call('authenticate', { auth_token: token })), -32003, claim);
      assert.equal(errorCode(await c.call('ping', { auth_token: token })), -32001, claim);
    }
    const superuser = await mint(claims('superuser'));
    assert.equal(errorCode(await c.call('authenticate', { auth_token: superuser })), -32003);
    assert.equal(errorCode(await c.call('ping')), -32001, 'no session was opened');
  });

  test('expired, forged, alg:none and malformed tokens get -32003 on authenticate, -32001 per call', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    const bad: Record<string, string> = {
      expired: await mint({ ...claims('admin'), iat: now() - 600, exp: now() - 300 }),
      forged: await mint(claims('admin'), 'not-the-secret'),
      algNone: unsignedToken(claims('admin')),
      malformed: 'not.a.jwt',
      empty: '',
    };
    for (const [kind, token] of Object.entries(bad)) {
      const auth = await c.call('authenticate', { auth_token: token });
      assert.equal(errorCode(auth), -32003, kind);
      assert.equal((auth.error as Json).message, 'Authentication failed', kind);
      assert.equal(errorCode(await c.call('get_camera_list', { auth_token: token })), -32001, kind);
    }
    assert.equal(errorCode(await c.call('ping', { auth_token: 42 })), -32001, 'non-string token');
  });

  test('a refused authenticate ends the session opened before it', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    await c.call('authenticate', { auth_token: await mint(claims('admin')) });
    assert.ok('result' in (await c.call('get_metrics')));
    assert.equal(errorCode(await c.call('authenticate', { auth_token: await mint(claims('admin'), 'not-the-secret') })), -32003);
    const after = await c.call('get_metrics');
    assert.equal(errorCode(after), -32001);
    assert.equal((after.error as Json).message, 'Authentication required');
  });

  test('roles are enforced, and a per-call token wins over the session', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    const [viewer, operator, admin] = await Promise.all([mint(claims('viewer')), mint(claims('operator')), mint(claims('admin'))]);
    const denied = await c.call('take_snapshot', { auth_token: viewer, device: 'camera0' });
    assert.equal(errorCode(denied), -32003);
    assert.equal((denied.error as Json).message, 'Insufficient permissions');
    assert.equal(errorCode(await c.call('get_metrics', { auth_token: operator })), -32003);
    assert.ok('result' in (await c.call('take_snapshot', { auth_token: operator, device: 'camera0' })));
    assert.ok('result' in (await c.call('get_metrics', { auth_token: admin })));

    await c.call('authenticate', { auth_token: admin });
    assert.equal(errorCode(await c.call('get_metrics', { auth_token: viewer })), -32003, 'viewer token beats admin session');
    assert.equal(errorCode(await c.call('get_metrics', { auth_token: 'forged' })), -32001, 'bad token beats session');
    assert.ok('result' in (await c.call('get_metrics')));
  });

  test('methodRoles overrides one entry of the documented matrix', async (t) => {
    const s = await sim(t, { methodRoles: { get_recording_info: 'admin' } });
    const c = await open(t, s);
    await c.call('authenticate', { auth_token: await mint(claims('viewer')) });
    assert.equal(errorCode(await c.call('get_recording_info', { filename: 'x.mp4' })), -32003);
    assert.ok('result' in (await c.call('list_recordings')));
  });
});

describe('methods', () => {
  test('get_camera_list is consistent, an empty list is healthy, get_camera_status finds cameras', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    await c.call('authenticate', { auth_token: await mint(claims('viewer')) });
    const list = (await c.call('get_camera_list')).result as { cameras: Json[]; total: number; connected: number };
    assert.equal(list.total, list.cameras.length);
    assert.equal(list.total, 2);
    assert.equal(list.connected, list.cameras.filter((cam) => cam.status === 'CONNECTED').length);
    assert.equal(list.connected, 1);
    for (const camera of list.cameras) {
      assert.deepEqual(Object.keys(camera.streams as Json).sort(), ['hls', 'rtsp', 'webrtc']);
      assert.equal(typeof camera.fps, 'number');
    }
    assert.equal(((await c.call('get_camera_status', { device: 'camera1' })).result as Json).status, 'DISCONNECTED');
    assert.equal(errorCode(await c.call('get_camera_status', { device: 'camera9' })), -32004);
    assert.equal(errorCode(await c.call('get_camera_status')), -32602);

    s.setCameras([]);
    assert.deepEqual((await c.call('get_camera_list')).result, { cameras: [], total: 0, connected: 0 });
  });

  test('JSON-RPC errors: parse, batch, invalid request, unknown method; notifications get no answer', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    c.send('{not json');
    assert.deepEqual(await c.nextJson(), { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    c.send([{ jsonrpc: '2.0', method: 'ping', id: 1 }]);
    assert.equal(errorCode(await c.nextJson()), -32600);
    c.send({ method: 'ping', id: 7 });
    const noVersion = await c.nextJson();
    assert.equal(errorCode(noVersion), -32600);
    assert.equal(noVersion.id, 7);
    c.send({ jsonrpc: '2.0', id: 8 });
    assert.equal(errorCode(await c.nextJson()), -32600);
    assert.equal(errorCode(await c.call('no_such_method')), -32601);

    c.send({ jsonrpc: '2.0', method: 'ping' }); // a notification: must get no answer
    const answer = await c.call('ping');
    assert.equal(errorCode(answer), -32001);
    assert.equal(c.queued(), 0, 'nothing answered the notification');
  });

  test('periodic notifications are interleaved with responses', async (t) => {
    const s = await sim(t, { notificationIntervalMs: 5 });
    const c = await open(t, s);
    await c.call('authenticate', { auth_token: API_KEY }); // notifications go to sessions only
    const first = await c.nextJson();
    assert.equal(first.method, 'camera_status_update');
    assert.equal(first.id, undefined);
    assert.ok(['camera0', 'camera1'].includes((first.params as Json).device as string));
    const viewer = await mint(claims('viewer'));
    s.setFaults({ latencyMs: 30 }); // leaves time for notifications to arrive before the answer
    assert.equal((await c.call('ping', { auth_token: viewer })).result, 'pong');
    assert.ok(c.notifications.every((n) => n.method === 'camera_status_update'));
  });
});

// --- faults ------------------------------------------------------------------------------------

describe('faults', () => {
  test('exposeProtected answers every method whatever the credential', async (t) => {
    const s = await sim(t, { faults: { exposeProtected: true } });
    const c = await open(t, s);
    assert.ok('result' in (await c.call('get_metrics')), 'no token');
    assert.ok('result' in (await c.call('take_snapshot', { auth_token: unsignedToken(claims('admin')), device: 'camera0' })), 'alg none');
    const noFile = await c.call('delete_recording', { auth_token: await mint(claims('viewer')), filename: 'nope.mp4' });
    assert.equal(errorCode(noFile), -32602, 'too low, past authorization, but no such file');
    const auth = await c.call('authenticate', { auth_token: await mint(claims('admin'), 'forged') });
    assert.equal((auth.result as Json).authenticated, true);
    assert.equal(s.stats().executedByMethod.take_snapshot, 1);

    s.setFaults({});
    assert.equal(errorCode(await c.call('get_metrics')), -32001, 'the forged session was not kept');
  });

  test('refuseValidCredentials refuses a valid token: -32003 on authenticate, -32001 per call and session', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    const admin = await mint(claims('admin'));
    await c.call('authenticate', { auth_token: admin });
    s.setFaults({ refuseValidCredentials: true });
    assert.equal(errorCode(await c.call('authenticate', { auth_token: admin })), -32003);
    assert.equal(errorCode(await c.call('ping', { auth_token: API_KEY })), -32001);
    assert.equal(errorCode(await c.call('ping')), -32001);
  });

  test('malformedCameraList breaks total', async (t) => {
    const s = await sim(t, { faults: { malformedCameraList: true } });
    const c = await open(t, s);
    const list = (await c.call('get_camera_list', { auth_token: API_KEY })).result as { cameras: unknown[]; total: number };
    assert.notEqual(list.total, list.cameras.length);
  });

  test('latencyMs delays every answer; methodLatencyMs only the named methods', async (t) => {
    const s = await sim(t, { faults: { latencyMs: 40 } });
    const c = await open(t, s);
    const started = performance.now();
    assert.equal(errorCode(await c.call('ping')), -32001);
    assert.ok(performance.now() - started >= 38, 'latency applies to errors too');

    s.setFaults({ methodLatencyMs: { get_camera_list: 10_000 } });
    const slow = c.call('get_camera_list', { auth_token: API_KEY });
    const fast = await c.call('ping', { auth_token: API_KEY });
    assert.equal(fast.result, 'pong', 'ping is answered while get_camera_list waits');
    let settled = false;
    void slow.then(() => (settled = true), () => (settled = true));
    await c.flush();
    assert.equal(settled, false);
  });

  test('rateLimited answers -32002; rateLimitPerMinute limits per connection', async (t) => {
    const s = await sim(t, { faults: { rateLimited: true } });
    const c = await open(t, s);
    assert.equal(errorCode(await c.call('ping', { auth_token: API_KEY })), -32002);

    const limited = await sim(t, { rateLimitPerMinute: 3 });
    const a = await open(t, limited);
    for (let i = 0; i < 3; i += 1) assert.equal((await a.call('ping', { auth_token: API_KEY })).result, 'pong');
    assert.equal(errorCode(await a.call('ping', { auth_token: API_KEY })), -32002);
    const b = await open(t, limited);
    assert.equal((await b.call('ping', { auth_token: API_KEY })).result, 'pong', 'another connection has its own budget');
  });

  test('silent never answers', async (t) => {
    const s = await sim(t, { faults: { silent: true } });
    const c = await open(t, s);
    c.send({ jsonrpc: '2.0', method: 'ping', params: { auth_token: API_KEY }, id: 'lost' });
    await c.flush(); // the server has read the request while silent
    s.setFaults({});
    const answer = await c.call('ping', { auth_token: API_KEY });
    assert.equal(answer.result, 'pong');
    assert.equal(c.queued(), 0, 'the first request was never answered');
    assert.equal(s.stats().byMethod.ping, 2);
  });

  test('notJson, notJsonRpc, wrongId, badErrorShape, binaryFrame corrupt the answer', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    const request = (id: number): Json => ({ jsonrpc: '2.0', method: 'ping', params: { auth_token: API_KEY }, id });

    s.setFaults({ notJson: true });
    c.send(request(1));
    const notJson = await c.nextFrame();
    assert.throws(() => JSON.parse(notJson.text), SyntaxError);

    s.setFaults({ notJsonRpc: true });
    c.send(request(2));
    const notRpc = await c.nextJson();
    assert.equal(notRpc.jsonrpc, undefined);
    assert.ok(!('result' in notRpc) && !('error' in notRpc));

    s.setFaults({ wrongId: true });
    c.send(request(3));
    const wrong = await c.nextJson();
    assert.notEqual(wrong.id, 3);
    assert.equal(wrong.result, 'pong');

    s.setFaults({ badErrorShape: true });
    c.send(request(4));
    assert.equal(typeof (await c.nextJson()).error, 'string');

    s.setFaults({ binaryFrame: true });
    c.send(request(5));
    const binary = await c.nextFrame();
    assert.equal(binary.isBinary, true);
    assert.equal(JSON.parse(binary.text).result, 'pong');
  });

  test('duplicateResponse, oversizeFrameBytes and notificationFlood', async (t) => {
    const s = await sim(t, { faults: { duplicateResponse: true } });
    const c = await open(t, s);
    const first = await c.call('ping', { auth_token: API_KEY });
    assert.deepEqual(await c.nextJson(), first);

    s.setFaults({ oversizeFrameBytes: 200_000 });
    c.send({ jsonrpc: '2.0', method: 'ping', params: { auth_token: API_KEY }, id: 'big' });
    const big = await c.nextFrame();
    assert.equal(Buffer.byteLength(big.text), 200_000);
    assert.equal(JSON.parse(big.text).result, 'pong');

    s.setFaults({ notificationFlood: 5 });
    c.send({ jsonrpc: '2.0', method: 'ping', params: { auth_token: API_KEY }, id: 'flood' });
    for (let i = 0; i < 5; i += 1) assert.equal((await c.nextJson()).method, 'camera_status_update');
    assert.equal((await c.nextJson()).id, 'flood');
  });

  test('trickleMs fragments the answer into continuation frames', async (t) => {
    const s = await sim(t, { faults: { trickleMs: 5 } });
    const frames = await rawExchange(s, JSON.stringify({ jsonrpc: '2.0', method: 'ping', params: { auth_token: API_KEY }, id: 1 }));
    assert.ok(frames.length > 1, `${frames.length} frame(s)`);
    assert.equal(frames[0]?.opcode, 1, 'first fragment is a text frame');
    assert.ok(frames.slice(1).every((f) => f.opcode === 0), 'then continuation frames');
    assert.deepEqual(frames.map((f) => f.fin), [...frames.slice(1).map(() => false), true]);
    const text = Buffer.concat(frames.map((f) => f.payload)).toString('utf8');
    assert.equal(JSON.parse(text).result, 'pong');
  });

  test('closeOnRequest closes with the code instead of answering', async (t) => {
    const s = await sim(t, { faults: { closeOnRequest: 1011 } });
    const c = await open(t, s);
    const closed = c.closed();
    c.send({ jsonrpc: '2.0', method: 'ping', id: 1 });
    assert.equal(await closed, 1011);
  });

  test('closeAfterUpgrade closes right after the upgrade; 1006 drops the connection', async (t) => {
    const s = await sim(t, { faults: { closeAfterUpgrade: 1013 } });
    assert.equal(await rawClient(t, s.url).closed(), 1013);
    s.setFaults({ closeAfterUpgrade: 1006 });
    assert.equal(await rawClient(t, s.url).closed(), 1006);
  });

  test('upgradeStatus refuses the upgrade with the HTTP status; 503 also makes /health/ready fail', async (t) => {
    const s = await sim(t, { faults: { upgradeStatus: 401 } });
    const c = rawClient(t, s.url);
    const [error] = (await once(c.ws, 'error')) as [Error];
    assert.match(error.message, /Unexpected server response: 401/);
    assert.equal((await fetch(`${s.httpUrl}/health/ready`)).status, 200);
    s.setFaults({ upgradeStatus: 503 });
    const ready = await fetch(`${s.httpUrl}/health/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'not_ready' });
  });

  test('hangUpgrade never answers the upgrade (a client deadline is the only way out)', async (t) => {
    const s = await sim(t, { faults: { hangUpgrade: true } });
    const c = rawClient(t, s.url, { handshakeTimeout: 100 });
    const [error] = (await once(c.ws, 'error')) as [Error];
    assert.match(error.message, /handshake has timed out/);
    assert.equal(s.stats().connections, 0);
  });

  test('setFaults rejects unknown or ill-typed faults; getFaults returns a copy', async (t) => {
    const s = await sim(t);
    assert.throws(() => s.setFaults({ nope: true } as never), /unknown fault "nope"/);
    assert.throws(() => s.setFaults({ latencyMs: -1 }), /fault "latencyMs" must be/);
    assert.throws(() => s.setFaults({ closeOnRequest: 1005 }), /fault "closeOnRequest"/);
    s.setFaults({ methodLatencyMs: { ping: 5 } });
    s.getFaults().methodLatencyMs!.ping = 99;
    assert.deepEqual(s.getFaults(), { methodLatencyMs: { ping: 5 } });
  });
});

// --- the access matrix: one method × one credential class ------------------------------------

const CLASSES = ['none', 'forged', 'expired', 'alg_none', 'malformed', 'role_too_low'] as const;
type CredentialClass = (typeof CLASSES)[number];
const WAYS = ['per_call', 'session'] as const;
type Way = (typeof WAYS)[number];

/** A token of that class for a method above viewer (`none`: no token at all). */
async function tokenOf(kind: CredentialClass): Promise<string | undefined> {
  switch (kind) {
    case 'none':
      return undefined;
    case 'forged':
      return mint(claims('admin'), 'not-the-secret');
    case 'expired':
      return mint({ ...claims('admin'), iat: now() - 600, exp: now() - 300 });
    case 'alg_none':
      return unsignedToken(claims('admin'));
    case 'malformed':
      return 'not-a-jwt';
    case 'role_too_low':
      return mint(claims('viewer'));
  }
}

/**
 * Calls `method` on a fresh connection with a credential of class `kind`: per call
 * (`auth_token` in the params) or as a session (authenticate with it, whatever the answer,
 * then call without a token; `none` never calls authenticate).
 */
async function callAs(t: TestContext, s: Simulator, method: string, kind: CredentialClass, way: Way, params: Json = {}): Promise<Json> {
  const c = await open(t, s);
  try {
    const token = await tokenOf(kind);
    if (way === 'per_call') return await c.call(method, token === undefined ? params : { ...params, auth_token: token });
    if (token !== undefined) {
      const auth = await c.call('authenticate', { auth_token: token });
      assert.equal(errorCode(auth), kind === 'role_too_low' ? undefined : -32003, `authenticate with ${kind}`);
    }
    return await c.call(method, params);
  } finally {
    // Many cases in one test: stay far below the simulator's connection limit.
    const closed = c.closed();
    c.ws.close();
    await closed;
  }
}

/** The code refusing `kind` on a healthy service, as the API page describes. */
const refusalCode = (kind: CredentialClass): number => (kind === 'role_too_low' ? -32003 : -32001);

describe('access faults', () => {
  test('exposeMethods answers one method to one credential class, per call and on a session; all else is refused', async (t) => {
    const s = await sim(t);
    for (const exposed of CLASSES) {
      s.setFaults({ exposeMethods: [{ method: 'get_server_info', credential: exposed }] });
      for (const way of WAYS) {
        for (const kind of CLASSES) {
          const what = `get_server_info exposed to ${exposed}, called ${way} with ${kind}`;
          const answer = await callAs(t, s, 'get_server_info', kind, way);
          if (kind === exposed) assert.equal((answer.result as Json | undefined)?.name, 'camera-service-simulator', what);
          else assert.equal(errorCode(answer), refusalCode(kind), what);
        }
        assert.equal(errorCode(await callAs(t, s, 'get_metrics', exposed, way)), refusalCode(exposed), `get_metrics ${way} with ${exposed}`);
      }
    }
    assert.equal(s.stats().executedByMethod.get_server_info, CLASSES.length * WAYS.length);
    assert.equal(s.stats().executedByMethod.get_metrics, undefined);
  });

  test('a session is the class of the last credential authenticate was given, even refused', async (t) => {
    const s = await sim(t, { faults: { exposeMethods: [{ method: 'get_metrics', credential: 'forged' }] } });
    const c = await open(t, s);
    assert.equal(errorCode(await c.call('get_metrics')), -32001, 'never authenticated: none');
    await c.call('authenticate', { auth_token: await mint(claims('admin'), 'not-the-secret') });
    assert.ok('result' in (await c.call('get_metrics')), 'forged');
    await c.call('authenticate', { auth_token: 'not-a-jwt' });
    assert.equal(errorCode(await c.call('get_metrics')), -32001, 'malformed now');
    await c.call('authenticate', { auth_token: await mint(claims('admin'), 'not-the-secret') });
    assert.equal(errorCode(await c.call('get_metrics', { auth_token: 'not-a-jwt' })), -32001, 'a per-call token wins over the session');
    assert.ok('result' in (await c.call('get_metrics', { auth_token: await mint(claims('viewer'), 'another-key') })), 'per-call forged');
    await c.call('authenticate', {});
    assert.equal(errorCode(await c.call('get_metrics')), -32001, 'authenticate without a token: none');
  });

  test('every token lands in exactly one class', async (t) => {
    const s = await sim(t, { apiKeys: [{ key: 'viewer-key', role: 'viewer' }] });
    const signed = (payload: Json, alg: string, secret = SECRET): Promise<string> =>
      new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));
    const noRole = claims('admin');
    delete noRole.role;
    const cases: Array<[string, unknown, CredentialClass]> = [
      ['expired and forged', await mint({ ...claims('admin'), exp: now() - 300 }, 'not-the-secret'), 'forged'],
      ['expired without a role', await mint({ user_id: 'probe', iat: now() - 600, exp: now() - 300 }), 'expired'],
      ['HS512 with the right secret', await signed(claims('admin'), 'HS512'), 'forged'],
      ['an empty signature', (await mint(claims('admin'))).replace(/[^.]+$/, ''), 'forged'],
      ['alg "None"', unsignedToken(claims('admin')).replace(/^[^.]+/, Buffer.from('{"alg":"None"}').toString('base64url')), 'alg_none'],
      ['alg none with a signature', `${unsignedToken(claims('admin'))}c2ln`, 'alg_none'],
      ['correctly signed without a role', await mint(noRole), 'malformed'],
      ['an unknown role', await mint(claims('root')), 'malformed'],
      ['a payload that is not JSON', `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.bm90IGpzb24.c2ln`, 'malformed'],
      ['a header without alg', `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.e30.c2ln`, 'malformed'],
      ['the empty string', '', 'malformed'],
      ['a number', 42, 'malformed'],
      ['an object', { jwt: 'x' }, 'malformed'],
      ['a viewer API key on an admin method', 'viewer-key', 'role_too_low'],
    ];
    const c = await open(t, s);
    for (const [what, token, expected] of cases) {
      for (const kind of CLASSES.filter((k) => k !== 'none')) {
        s.setFaults({ exposeMethods: [{ method: 'get_storage_info', credential: kind }] });
        const answer = await c.call('get_storage_info', { auth_token: token });
        assert.equal('result' in answer, kind === expected, `${what} exposed to ${kind}`);
      }
    }
  });

  test('exposeMethods on authenticate answers success to that class but opens no session', async (t) => {
    const s = await sim(t, { faults: { exposeMethods: [{ method: 'authenticate', credential: 'alg_none' }] } });
    const c = await open(t, s);
    const auth = await c.call('authenticate', { auth_token: unsignedToken(claims('admin')) });
    assert.equal((auth.result as Json).authenticated, true);
    assert.equal(errorCode(await c.call('ping')), -32001, 'the session grants nothing');
    assert.equal(errorCode(await c.call('authenticate', { auth_token: await mint(claims('admin'), 'x') })), -32003, 'forged still refused');
    assert.equal(errorCode(await c.call('authenticate', {})), -32001, 'none still refused');
  });

  test('refusalErrors answers an error in place of the refusal, per call and on a session; nothing is executed', async (t) => {
    const s = await sim(t);
    for (const kind of CLASSES) {
      s.setFaults({ refusalErrors: [{ method: 'set_retention_policy', credential: kind, code: -32603 }] });
      for (const way of WAYS) {
        const answer = await callAs(t, s, 'set_retention_policy', kind, way);
        assert.deepEqual(answer.error, { code: -32603, message: 'Internal error' }, `${kind} ${way}`);
        const other = CLASSES.find((k) => k !== kind)!;
        assert.equal(errorCode(await callAs(t, s, 'set_retention_policy', other, way)), refusalCode(other), `${other} ${way}`);
      }
    }
    s.setFaults({ refusalErrors: [{ method: 'delete_recording', credential: 'expired', code: -32602, message: 'filename is required' }] });
    assert.deepEqual((await callAs(t, s, 'delete_recording', 'expired', 'session')).error, { code: -32602, message: 'filename is required' });
    s.setFaults({ refusalErrors: [{ method: 'authenticate', credential: 'malformed', code: 4000 }] });
    const c = await open(t, s);
    assert.deepEqual((await c.call('authenticate', { auth_token: 'not-a-jwt' })).error, { code: 4000, message: 'Server error' });
    assert.equal(errorCode(await c.call('authenticate', { auth_token: unsignedToken(claims('admin')) })), -32003);
    const executed = s.stats().executedByMethod;
    assert.equal(executed.set_retention_policy, undefined);
    assert.equal(executed.delete_recording, undefined);
  });

  test('unknownMethods answers -32601 whatever the credential, authenticate included', async (t) => {
    const s = await sim(t, { faults: { unknownMethods: ['get_server_info', 'authenticate'] } });
    const admin = await mint(claims('admin'));
    const c = await open(t, s);
    assert.equal(errorCode(await c.call('get_server_info', { auth_token: admin })), -32601, 'valid admin');
    s.setFaults({ unknownMethods: ['get_server_info'] });
    for (const way of WAYS) {
      for (const kind of CLASSES) assert.equal(errorCode(await callAs(t, s, 'get_server_info', kind, way)), -32601, `${kind} ${way}`);
    }
    s.setFaults({ unknownMethods: ['get_server_info', 'authenticate'] });
    const answer = await c.call('authenticate', { auth_token: admin });
    assert.deepEqual(answer.error, { code: -32601, message: 'Method not found' });
    assert.equal(errorCode(await c.call('get_metrics')), -32001, 'no session was opened');
    assert.ok('result' in (await c.call('get_metrics', { auth_token: admin })), 'other methods are untouched');
  });

  test('the methodRoles fault changes a role at run time, per call and on a session', async (t) => {
    const s = await sim(t);
    s.setFaults({ methodRoles: { get_server_info: 'viewer', custom_call: 'operator' } });
    const viewer = await mint(claims('viewer'));
    const c = await open(t, s);
    assert.ok('result' in (await c.call('get_server_info', { auth_token: viewer })), 'per call');
    await c.call('authenticate', { auth_token: viewer });
    assert.ok('result' in (await c.call('get_server_info')), 'on the session');
    assert.equal(errorCode(await c.call('get_metrics')), -32003, 'other entries are untouched');
    assert.equal(errorCode(await c.call('custom_call')), -32003, 'a new method is known, with its role');
    assert.deepEqual((await c.call('custom_call', { auth_token: API_KEY })).result, { status: 'ok' });
    for (const way of WAYS) {
      for (const kind of CLASSES) {
        // role_too_low mints a viewer token: now strong enough. Every bad credential is still refused.
        const answer = await callAs(t, s, 'get_server_info', kind, way);
        if (kind === 'role_too_low') assert.ok('result' in answer, `viewer ${way}`);
        else assert.equal(errorCode(answer), -32001, `${kind} ${way}`);
      }
    }
    s.setFaults({});
    assert.equal(errorCode(await c.call('get_server_info')), -32003, 'the table is back');
    assert.equal(errorCode(await c.call('custom_call', { auth_token: API_KEY })), -32601);
  });

  test('ill-formed or ambiguous access faults are refused with a message naming the mistake', async (t) => {
    const s = await sim(t);
    const refused: Array<[unknown, RegExp]> = [
      [{ exposeMethods: { method: 'ping' } }, /^fault "exposeMethods" must be an array of \{method, credential\}$/],
      [{ exposeMethods: [{ method: 'ping', credential: 'stolen' }] }, /^fault "exposeMethods" entry 0: "credential" must be one of none, forged, expired, alg_none, malformed, role_too_low$/],
      [{ exposeMethods: [{ method: '', credential: 'none' }] }, /entry 0: "method" must be a method name/],
      [{ exposeMethods: [{ method: 'ping', credential: 'none', extra: 1 }] }, /entry 0: unknown field "extra"/],
      [{ exposeMethods: [{ credential: 'none' }] }, /entry 0: "method" is missing/],
      [{ exposeMethods: [{ method: 'pnig', credential: 'none' }] }, /entry 0: method "pnig" is not one the simulator knows/],
      [{ exposeMethods: [{ method: 'authenticate', credential: 'role_too_low' }] }, /authenticate needs no role/],
      [{ refusalErrors: [{ method: 'ping', credential: 'role_too_low', code: -32603 }] }, /ping needs viewer, the lowest role, so role_too_low never applies/],
      [{ methodRoles: { get_metrics: 'viewer' }, exposeMethods: [{ method: 'get_metrics', credential: 'role_too_low' }] }, /get_metrics needs viewer/],
      [{ exposeMethods: Array.from({ length: 1001 }, () => ({ method: 'ping', credential: 'none' })) }, /at most 1000 entries/],
      [{ refusalErrors: [{ method: 'ping', credential: 'none', code: 1.5 }] }, /^fault "refusalErrors" entry 0: "code" must be an integer/],
      [{ refusalErrors: [{ method: 'ping', credential: 'none', code: -32603, message: '' }] }, /"message" must be a string of 1 to 200/],
      [{ refusalErrors: [{ method: 'ping', credential: 'none' }] }, /entry 0: "code" is missing/],
      [
        { exposeMethods: [{ method: 'ping', credential: 'forged' }], refusalErrors: [{ method: 'ping', credential: 'forged', code: -32603 }] },
        /^fault "refusalErrors" entry 0: ping with forged is already in exposeMethods entry 0; each pair may appear once$/,
      ],
      [{ unknownMethods: 'ping' }, /^fault "unknownMethods" must be an array of method names$/],
      [{ unknownMethods: ['ping'], exposeMethods: [{ method: 'ping', credential: 'none' }] }, /also in unknownMethods/],
      [{ methodRoles: { ping: 'root' } }, /^fault "methodRoles" entry "ping" must be viewer, operator or admin$/],
      [{ methodRoles: { authenticate: 'viewer' } }, /authenticate needs no role/],
      [{ methodRoles: { ping: 'admin' }, unknownMethods: ['ping'] }, /in both methodRoles and unknownMethods/],
    ];
    for (const [faults, message] of refused) {
      assert.throws(() => s.setFaults(faults as never), (err: Error) => err instanceof TypeError && message.test(err.message), JSON.stringify(faults).slice(0, 80));
    }
    // A method made known by the methodRoles fault can be exposed; so can one of the table given at start.
    s.setFaults({ methodRoles: { custom_call: 'admin', ping: 'operator' }, exposeMethods: [{ method: 'custom_call', credential: 'none' }, { method: 'ping', credential: 'role_too_low' }] });
    s.setFaults({ methodRoles: { custom_call: 'admin' }, exposeMethods: [{ method: 'custom_call', credential: 'none' }] });
    const custom = await sim(t, { methodRoles: { custom_call: 'admin' } });
    custom.setFaults({ refusalErrors: [{ method: 'custom_call', credential: 'none', code: -32603 }] });

    const put = await fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body: '{"exposeMethods":[{"method":"ping","credential":"stolen"}]}' });
    assert.equal(put.status, 400);
    assert.match(((await put.json()) as Json).error as string, /"credential" must be one of/);
    assert.deepEqual(s.getFaults().exposeMethods, [{ method: 'custom_call', credential: 'none' }], 'a refused body changes nothing');
  });

  test('GET /control/stats counts what the clients did', async (t) => {
    const s = await sim(t);
    const before = (await (await fetch(`${s.httpUrl}/control/stats`)).json()) as Json;
    assert.equal(before.connections, 0);
    assert.equal(errorCode(await callAs(t, s, 'get_server_info', 'none', 'per_call')), -32001);
    const after = (await (await fetch(`${s.httpUrl}/control/stats`)).json()) as Json;
    assert.equal(after.connections, 1);
    assert.equal(after.requests, 1);
    assert.deepEqual(after.byMethod, { get_server_info: 1 });
  });

  test('PUT and GET /control/faults carry the access faults', async (t) => {
    const s = await sim(t);
    const faults = {
      exposeMethods: [{ method: 'take_snapshot', credential: 'alg_none' }],
      methodRoles: { get_server_info: 'viewer' },
      refusalErrors: [{ method: 'delete_snapshot', credential: 'none', code: -32602, message: 'Invalid params' }],
      unknownMethods: ['get_streams'],
    };
    const put = await fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body: JSON.stringify(faults) });
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { current: faults });
    assert.deepEqual(((await (await fetch(`${s.httpUrl}/control/faults`)).json()) as Json).current, faults);
    assert.deepEqual(s.getFaults(), faults);
    assert.equal(errorCode(await callAs(t, s, 'get_streams', 'none', 'per_call')), -32601);
    assert.deepEqual((await callAs(t, s, 'delete_snapshot', 'none', 'session')).error, { code: -32602, message: 'Invalid params' });
  });
});

// --- side effects ------------------------------------------------------------------------------

describe('side effects', () => {
  const SIDE_EFFECTS = ['take_snapshot', 'start_recording', 'stop_recording', 'delete_recording', 'delete_snapshot'];

  test('an exposed side-effect method naming no real camera or file answers an error and executes nothing', async (t) => {
    const s = await sim(t);
    for (const kind of CLASSES) {
      s.setFaults({ exposeMethods: SIDE_EFFECTS.map((method) => ({ method, credential: kind })) });
      for (const way of WAYS) {
        const what = `${kind} ${way}`;
        for (const method of ['take_snapshot', 'start_recording', 'stop_recording']) {
          const answer = await callAs(t, s, method, kind, way, { device: 'camera9' });
          assert.deepEqual(answer.error, { code: -32004, message: 'Camera not found', data: { device: 'camera9' } }, `${method} ${what}`);
          assert.equal(errorCode(await callAs(t, s, method, kind, way)), -32602, `${method} without a device, ${what}`);
        }
        for (const method of ['take_snapshot', 'start_recording']) {
          assert.equal(errorCode(await callAs(t, s, method, kind, way, { device: 'camera1' })), -32004, `${method} on a disconnected camera, ${what}`);
        }
        for (const method of ['delete_recording', 'delete_snapshot']) {
          const answer = await callAs(t, s, method, kind, way, { filename: 'camprobe-missing.mp4' });
          assert.equal(errorCode(answer), -32602, `${method} ${what}`);
          assert.match(JSON.stringify(answer.error), /not found/);
          assert.equal(errorCode(await callAs(t, s, method, kind, way)), -32602, `${method} without a filename, ${what}`);
        }
      }
    }
    const executed = s.stats().executedByMethod;
    for (const method of SIDE_EFFECTS) assert.equal(executed[method], undefined, method);
  });

  test('an exposed side-effect method naming a real camera or file runs, once, and shows', async (t) => {
    const s = await sim(t, { recordings: ['old.mp4'], faults: { exposeMethods: SIDE_EFFECTS.map((method) => ({ method, credential: 'forged' })) } });
    const snapshot = await callAs(t, s, 'take_snapshot', 'forged', 'per_call', { device: 'camera0' });
    const filename = (snapshot.result as Json).filename as string;
    assert.match(filename, /^camera0_.*\.jpg$/);
    const admin = await mint(claims('admin'));
    const c = await open(t, s);
    const listed = (await c.call('list_snapshots', { auth_token: admin })).result as { files: Json[]; total: number };
    assert.deepEqual(listed.files.map((f) => f.filename), [filename]);
    assert.ok('result' in (await callAs(t, s, 'delete_snapshot', 'forged', 'session', { filename })));
    assert.equal(errorCode(await callAs(t, s, 'delete_snapshot', 'forged', 'session', { filename })), -32602, 'gone');
    assert.equal(((await c.call('get_recording_info', { auth_token: admin, filename: 'old.mp4' })).result as Json).filename, 'old.mp4');
    assert.ok('result' in (await callAs(t, s, 'delete_recording', 'forged', 'per_call', { filename: 'old.mp4' })));
    assert.equal(errorCode(await c.call('get_recording_info', { auth_token: admin, filename: 'old.mp4' })), -32602);
    assert.deepEqual(s.stats().executedByMethod, { take_snapshot: 1, list_snapshots: 1, delete_snapshot: 1, delete_recording: 1, get_recording_info: 1 });
  });

  test('a refused caller learns nothing about cameras or files: authorization comes first', async (t) => {
    const s = await sim(t);
    const viewer = await mint(claims('viewer'));
    const c = await open(t, s);
    assert.equal(errorCode(await c.call('take_snapshot', { device: 'camera9' })), -32001);
    assert.equal(errorCode(await c.call('delete_snapshot', { auth_token: viewer, filename: 'missing.jpg' })), -32003);
    const operator = await c.call('start_recording', { auth_token: API_KEY, device: 'camera0' });
    const recording = (operator.result as Json).filename as string;
    assert.ok('result' in (await c.call('stop_recording', { auth_token: API_KEY, device: 'camera0' })));
    const listed = (await c.call('list_recordings', { auth_token: viewer })).result as { files: Json[]; total: number };
    assert.deepEqual([listed.files[0]?.filename, listed.total], [recording, 1]);
  });
});

// --- connections, HTTP, stats, close --------------------------------------------------------

describe('connections and HTTP', () => {
  test('a wrong path is closed with 1008; past maxConnections with 1013', async (t) => {
    const s = await sim(t, { maxConnections: 1 });
    assert.equal(await rawClient(t, `ws://127.0.0.1:${s.port}/other`).closed(), 1008);
    const first = await open(t, s);
    assert.equal(await rawClient(t, s.url).closed(), 1013);
    assert.equal((await first.call('ping', { auth_token: API_KEY })).result, 'pong');
    assert.equal(s.stats().openConnections, 1);
  });

  test('health and control endpoints', async (t) => {
    const s = await sim(t);
    assert.deepEqual(await (await fetch(`${s.httpUrl}/health/ready`)).json(), { status: 'ready' });
    const system = await fetch(`${s.httpUrl}/health/system`);
    assert.equal(system.status, 200);
    assert.equal(((await system.json()) as Json).status, 'healthy');

    const put = await fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body: JSON.stringify({ healthNotReady: true, latencyMs: 5 }) });
    assert.equal(put.status, 200);
    assert.deepEqual(s.getFaults(), { healthNotReady: true, latencyMs: 5 });
    assert.deepEqual(((await (await fetch(`${s.httpUrl}/control/faults`)).json()) as Json).current, { healthNotReady: true, latencyMs: 5 });
    assert.equal((await fetch(`${s.httpUrl}/health/ready`)).status, 503);

    const unknown = await fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body: '{"explode":true}' });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as Json).error as string, /unknown fault "explode"/);
    assert.equal((await fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body: '{' })).status, 400);
    assert.equal((await fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body: '{"trickleMs":"x"}' })).status, 400);
    assert.deepEqual(s.getFaults(), { healthNotReady: true, latencyMs: 5 }, 'refused bodies change nothing');

    const huge = await fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body: `{"latencyMs":1${' '.repeat(70_000)}}` });
    assert.equal(huge.status, 413);
    assert.equal((await fetch(`${s.httpUrl}/nope`)).status, 404);
    assert.equal((await fetch(`${s.httpUrl}/control/faults`, { method: 'POST', body: '{}' })).status, 404);
  });

  test('stats count connections, requests and executed methods', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    await c.call('authenticate', { auth_token: await mint(claims('viewer')) });
    await c.call('ping');
    await c.call('take_snapshot', { device: 'camera0' }); // refused: too low
    c.send('garbage');
    await c.nextFrame();
    const stats = s.stats();
    assert.equal(stats.connections, 1);
    assert.equal(stats.openConnections, 1);
    assert.equal(stats.requests, 4);
    assert.deepEqual(stats.byMethod, { authenticate: 1, ping: 1, take_snapshot: 1 });
    assert.deepEqual(stats.executedByMethod, { authenticate: 1, ping: 1 });
  });

  test('peakRequestsPerMinute is the most requests in any sliding 60 s window, to the millisecond', async (t) => {
    let clock = 1_000_000.25;
    const s = await sim(t, { clock: () => clock });
    const c = await open(t, s);
    const burst = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 1) await c.call('ping');
    };
    await burst(3); // t = 0
    clock += 30_000;
    await burst(2); // t = 30 s: 5 in the window
    assert.deepEqual([s.stats().peakRequestsPerMinute, s.stats().requestsLastMinute], [5, 5]);
    clock += 30_000;
    await burst(1); // t = 60 s: the first 3 are exactly 60 s old, out of the window
    assert.deepEqual([s.stats().peakRequestsPerMinute, s.stats().requestsLastMinute], [5, 3]);
    clock += 29_999;
    c.send('not json'); // every frame counts, valid or not
    await c.nextFrame();
    assert.deepEqual([s.stats().peakRequestsPerMinute, s.stats().requestsLastMinute], [5, 4], 't = 89.999 s: the 30 s ones are still in');
    clock += 1;
    await burst(3); // t = 90 s: the 30 s ones leave as these arrive
    assert.deepEqual([s.stats().peakRequestsPerMinute, s.stats().requestsLastMinute], [5, 5]);
    await burst(1);
    assert.equal(s.stats().peakRequestsPerMinute, 6);
    clock += 120_000;
    assert.equal(s.stats().requestsLastMinute, 0);
    assert.equal(s.stats().peakRequestsPerMinute, 6, 'a peak stays');
    assert.equal(s.stats().requests, 11);
  });

  test('the window is exact against a naive count, and holds at most one entry per millisecond', () => {
    const window = new RequestWindow(60_000);
    const arrivals: number[] = [];
    let now = 0;
    let seed = 7;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    let naivePeak = 0;
    for (let i = 0; i < 200_000; i += 1) {
      // Bursts of many per millisecond, then pauses of up to 2 s.
      now += random() < 0.9 ? 0 : random() < 0.5 ? random() * 3 : random() * 2_000;
      window.add(now);
      arrivals.push(Math.floor(now));
      if (i % 997 === 0 || i === 199_999) {
        const naive = arrivals.filter((at) => at > Math.floor(now) - 60_000).length;
        naivePeak = Math.max(naivePeak, naive);
        assert.equal(window.count(now), naive, `at ${now} ms`);
        const entries = (window as unknown as { entries: unknown[] }).entries.length;
        assert.ok(entries <= 2 * 60_000 + 1_025, `${entries} entries`);
      }
    }
    // The exact peak, by two pointers over the (sorted) arrivals.
    let exactPeak = 0;
    for (let first = 0, last = 0; last < arrivals.length; last += 1) {
      while (arrivals[first]! <= arrivals[last]! - 60_000) first += 1;
      exactPeak = Math.max(exactPeak, last - first + 1);
    }
    assert.ok(naivePeak > 1_000);
    assert.equal(window.peak(), exactPeak);
    window.reset();
    assert.deepEqual([window.count(now), window.peak()], [0, 0]);
  });

  test('peakOpenConnections is the most connections served at once; resetStats starts afresh', async (t) => {
    const s = await sim(t);
    const [a, b, c] = [await open(t, s), await open(t, s), await open(t, s)];
    await Promise.all([a, b, c].map((x) => x.call('ping')));
    for (const x of [a, b]) {
      const closed = x.closed();
      x.ws.close();
      await closed;
    }
    const d = await open(t, s);
    await d.call('ping');
    assert.equal(s.stats().peakOpenConnections, 3);
    assert.equal(s.stats().connections, 4);

    s.resetStats();
    const fresh = s.stats();
    assert.deepEqual(
      { ...fresh, openConnections: undefined },
      {
        connections: 0,
        openConnections: undefined,
        requests: 0,
        byMethod: {},
        executedByMethod: {},
        peakRequestsPerMinute: 0,
        requestsLastMinute: 0,
        peakOpenConnections: fresh.openConnections,
        pingsSent: 0,
        drops: 0,
        notificationsSent: 0,
      },
    );
    await d.call('ping');
    assert.equal(s.stats().peakRequestsPerMinute, 1);
  });

  test('close() leaves no socket, server or timer behind', async () => {
    const ignored = new Set(['TTYWrap', 'PipeWrap', 'FSReqCallback']);
    const count = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) if (!ignored.has(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
      return counts;
    };
    const before = count();

    const s = await startSimulator({ jwtSecret: SECRET, notificationIntervalMs: 5, apiKeys: [{ key: API_KEY, role: 'admin' }] });
    const c = new TestClient(new WebSocket(s.url));
    await once(c.ws, 'open');
    await c.call('authenticate', { auth_token: API_KEY }); // notifications go to sessions only
    await c.nextJson(); // the notification timer runs
    s.setFaults({ latencyMs: 60_000 });
    c.send({ jsonrpc: '2.0', method: 'ping', params: { auth_token: API_KEY }, id: 1 });
    await c.flush(); // a delayed answer is now pending on a timer

    // A connection whose upgrade hangs: first a keep-alive HTTP request proves the server owns it.
    s.setFaults({ hangUpgrade: true });
    const hung = connect(s.port, '127.0.0.1');
    hung.on('error', () => undefined);
    hung.write(`GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n`);
    await once(hung, 'data');
    hung.write(upgradeRequest('/ws'));

    const clientClosed = c.closed();
    const hungClosed = new Promise((resolve) => hung.once('close', resolve));
    await s.close();
    await Promise.all([clientClosed, hungClosed, s.close()]); // close() is idempotent

    const after = count();
    for (const [resource, n] of after) {
      assert.ok(n <= (before.get(resource) ?? 0), `${resource}: ${before.get(resource) ?? 0} before, ${n} after`);
    }
  });
});

// --- the simulator's command line ---------------------------------------------------------------

const CLI = fileURLToPath(new URL('../src/simulator/cli.js', import.meta.url));

/** Every fault the validator knows, from its own message (independent of the help table). */
function knownFaults(): string[] {
  const checked = validateFaults({ '?': true });
  assert.ok('error' in checked);
  return /known faults: (.*)$/.exec(checked.error)![1]!.split(', ');
}

describe('simulator command line', () => {
  test('GET /control/faults shows the current faults and every available one, one line each', async (t) => {
    const s = await sim(t);
    s.setFaults({ latencyMs: 5 });
    const res = await fetch(`${s.httpUrl}/control/faults`);
    const text = await res.text();
    const body = JSON.parse(text) as { current: Json; available: Record<string, string> };
    assert.deepEqual(body.current, { latencyMs: 5 });
    assert.deepEqual(Object.keys(body.available).sort(), knownFaults().sort());
    const availableLines = text.slice(text.indexOf('"available"')).split('\n');
    for (const [fault, line] of Object.entries(body.available)) {
      assert.match(line, /^\S.*: \S/, `${fault}: "type: what it does"`);
      assert.equal(availableLines.filter((l) => l.trimStart().startsWith(`"${fault}":`)).length, 1, `${fault} on one line of its own`);
    }
    assert.equal(body.available.exposeProtected, 'bool: security regression: no authentication or role checks at all');
  });

  test('--help lists every fault on one line of its own', () => {
    const help = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    const faults = knownFaults();
    assert.ok(faults.includes('exposeMethods') && faults.includes('healthNotReady'), faults.join());
    for (const fault of faults) {
      const lines = help.split('\n').filter((line) => new RegExp(`^  ${fault} `).test(line));
      assert.equal(lines.length, 1, `${fault} in:\n${help}`);
      assert.ok(lines[0]!.length > fault.length + 10, `${fault} has a description`);
    }
  });

  test('--faults takes the access faults, refuses bad ones with the reason, and GET /control/faults shows them', async (t) => {
    const env = { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET };
    const bad = spawnSync(process.execPath, [CLI, '--port', '0', '--faults', '{"exposeMethods":[{"method":"ping","credential":"stolen"}]}'], { env, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^--faults: fault "exposeMethods" entry 0: "credential" must be one of none, forged/);
    const typo = spawnSync(process.execPath, [CLI, '--port', '0', '--faults', '{"unknownMethods":["x"],"exposeMethods":[{"method":"get_srever_info","credential":"none"}]}'], { env, encoding: 'utf8' });
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /method "get_srever_info" is not one the simulator knows/);

    const faults = { exposeMethods: [{ method: 'get_server_info', credential: 'expired' }], methodRoles: { get_metrics: 'viewer' } };
    const { line, stop } = await startSimulatorCli(t, ['--port', '0', '--faults', JSON.stringify(faults)], env);
    const httpUrl = /\(http (\S+)\)/.exec(line)?.[1];
    assert.ok(httpUrl, line);
    assert.deepEqual(((await (await fetch(`${httpUrl}/control/faults`)).json()) as Json).current, faults);
    assert.deepEqual(await stop(), [0, null]);
  });
});

// --- a raw WebSocket client, to see frames the `ws` client reassembles -------------------------

function upgradeRequest(path: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Upgrades by hand, sends one short text message, returns the frames up to the final one. */
async function rawExchange(s: Simulator, message: string): Promise<RawFrame[]> {
  const socket: Socket = connect(s.port, '127.0.0.1');
  try {
    socket.write(upgradeRequest('/ws'));
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    const frames: RawFrame[] = [];
    for await (const chunk of socket) {
      buffer = Buffer.concat([buffer, chunk as Buffer]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) continue;
        assert.match(buffer.subarray(0, end).toString(), /^HTTP\/1\.1 101/);
        buffer = buffer.subarray(end + 4);
        upgraded = true;
        // Client frames must be masked; an all-zero mask leaves the payload as is.
        const payload = Buffer.from(message);
        assert.ok(payload.length < 126);
        socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
      }
      for (let frame = readFrame(buffer); frame; frame = readFrame(buffer)) {
        buffer = buffer.subarray(frame.size);
        frames.push(frame.frame);
        if (frame.frame.fin) return frames;
      }
    }
    throw new Error('connection ended before the final frame');
  } finally {
    socket.destroy();
  }
}

function readFrame(buffer: Buffer): { frame: RawFrame; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  let length = buffer[1]! & 0x7f;
  let header = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    header = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    header = 10;
  }
  if (buffer.length < header + length) return undefined;
  const frame = { fin: (buffer[0]! & 0x80) !== 0, opcode: buffer[0]! & 0x0f, payload: buffer.subarray(header, header + length) };
  return { frame, size: header + length };
}
