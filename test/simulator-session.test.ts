/**
 * The simulator as a long-held session sees it: server pings, notifications only to valid
 * sessions, token expiry on the session, dropped connections, and the faults of each.
 * Real `ws` clients on port 0; every wait is on an event (a frame, a ping, a close), never
 * a sleep: a tiny pingIntervalMs serves as the clock where time has to pass.
 */
import { startSimulatorCli } from './helpers/simulator-cli.js';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { startSimulator, validateFaults } from '../src/simulator/simulator.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/simulator.js';

const SECRET = 'simulator-session-test-secret-0123456789';
const API_KEY = 'sim-session-api-key-viewer';

type Json = Record<string, unknown>;

/** A `ws` client that matches answers by id and keeps every notification and ping it gets. */
class Client {
  readonly notifications: unknown[] = [];
  pings = 0;
  private readonly pending = new Map<unknown, (message: Json) => void>();
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('error', () => undefined); // failures are asserted through 'close' and answers
    ws.on('ping', () => {
      this.pings += 1;
    });
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as Json;
      const answer = this.pending.get(message.id);
      if (answer) {
        this.pending.delete(message.id);
        answer(message);
      } else {
        this.notifications.push(message);
        ws.emit('notification', message);
      }
    });
  }

  call(method: string, params?: Json): Promise<Json> {
    const id = this.nextId++;
    const answered = new Promise<Json>((resolve) => this.pending.set(id, resolve));
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', method, id, ...(params === undefined ? {} : { params }) }));
    return answered;
  }

  /** Opens a session; fails the test if `authenticate` refuses. */
  async authenticate(token: string): Promise<void> {
    const answer = await this.call('authenticate', { auth_token: token });
    assert.equal((answer.result as Json | undefined)?.authenticated, true, JSON.stringify(answer));
  }

  /**
   * Resolves once the server has handled everything before: a ping/pong round trip. A
   * notification the server sent this connection before it read the ping arrives first.
   */
  async flush(): Promise<void> {
    const pong = once(this.ws, 'pong');
    this.ws.ping();
    await pong;
  }

  /** Resolves after the `event`s that make `done()` true (at once if it already is). */
  async until(event: 'ping' | 'notification', done: () => boolean): Promise<void> {
    while (!done()) await once(this.ws, event);
  }

  closed(): Promise<number> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
    return new Promise((resolve) => this.ws.once('close', (code: number) => resolve(code)));
  }
}

async function sim(t: TestContext, options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const s = await startSimulator({ jwtSecret: SECRET, apiKeys: [{ key: API_KEY, role: 'viewer' }], ...options });
  t.after(() => s.close());
  return s;
}

async function open(t: TestContext, s: Simulator): Promise<Client> {
  const client = new Client(new WebSocket(s.url));
  t.after(async () => {
    if (client.ws.readyState === WebSocket.CLOSED) return;
    const closed = client.closed();
    client.ws.terminate();
    await closed;
  });
  await once(client.ws, 'open');
  return client;
}

const seconds = (): number => Math.floor(Date.now() / 1000);

/**
 * `exp` of a JWT that lives about a second: the second after the current one, rounded so
 * that 0.3 to 1.3 s remain (a token minted in a second's last milliseconds would expire
 * before `authenticate` could accept it).
 */
const oneSecondExp = (): number => Math.floor((Date.now() + 300) / 1000) + 1;

function mint(role: string, exp = seconds() + 300): Promise<string> {
  return new SignJWT({ user_id: 'operator-console', role, iat: seconds(), exp })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(SECRET));
}

function errorOf(answer: Json): { code?: number; message?: string } | undefined {
  return answer.error as { code?: number; message?: string } | undefined;
}


// --- server pings ----------------------------------------------------------------------------

describe('server ping frames', () => {
  test('every connection gets a ping every pingIntervalMs, authenticated or not, counted in pingsSent', async (t) => {
    const s = await sim(t, { pingIntervalMs: 10 });
    const [session, anonymous] = [await open(t, s), await open(t, s)];
    await session.authenticate(API_KEY);
    await Promise.all([session.until('ping', () => session.pings >= 3), anonymous.until('ping', () => anonymous.pings >= 3)]);
    assert.ok(s.stats().pingsSent >= 6, `${s.stats().pingsSent} pings sent`);
    s.resetStats();
    assert.equal(s.stats().pingsSent, 0);
  });

  test('noServerPings stops them on open connections; clearing it resumes them', async (t) => {
    const s = await sim(t, { pingIntervalMs: 10, notificationIntervalMs: 10 });
    const c = await open(t, s);
    await c.authenticate(API_KEY);
    await c.until('ping', () => c.pings >= 1);
    s.setFaults({ noServerPings: true });
    const [pings, sent] = [c.pings, s.stats().pingsSent];
    // The notification timer, as fast as the ping one, is the clock: ten ticks without a ping.
    await c.until('notification', () => c.notifications.length >= 10);
    assert.equal(c.pings, pings);
    assert.equal(s.stats().pingsSent, sent);
    s.setFaults({});
    await c.until('ping', () => c.pings > pings);
  });

  test('pingIntervalMs 0 turns them off; an impossible interval is refused', async (t) => {
    const s = await sim(t, { pingIntervalMs: 0, notificationIntervalMs: 5 });
    const c = await open(t, s);
    await c.authenticate(API_KEY);
    await c.until('notification', () => c.notifications.length >= 5);
    assert.equal(c.pings, 0);
    assert.equal(s.stats().pingsSent, 0);
    for (const pingIntervalMs of [-1, Number.NaN, 2 ** 31]) {
      await assert.rejects(startSimulator({ jwtSecret: SECRET, pingIntervalMs }), /pingIntervalMs must be a number of milliseconds/);
    }
  });
});

// --- token expiry on the session ---------------------------------------------------------------

describe('token expiry on a session', () => {
  test('a session on a 1 s JWT is refused with "Token expired" after exp; re-authenticating restores it; API keys never expire', async (t) => {
    const s = await sim(t, { pingIntervalMs: 20 });
    const [c, keyed] = [await open(t, s), await open(t, s)];
    const exp = oneSecondExp();
    const token = await mint('viewer', exp);
    await c.authenticate(token);
    await keyed.authenticate(API_KEY);
    assert.equal((await c.call('ping')).result, 'pong');

    await c.until('ping', () => Date.now() >= exp * 1000); // the server's pings are the clock
    for (const method of ['ping', 'get_camera_list']) {
      assert.deepEqual(errorOf(await c.call(method)), { code: -32001, message: 'Token expired' }, method);
    }
    assert.deepEqual(errorOf(await c.call('ping', { auth_token: token })), { code: -32001, message: 'Authentication failed' }, 'per call, jose refuses it');
    assert.equal((await keyed.call('ping')).result, 'pong', 'the API key session lives on');

    // The class of an expired session is `expired`, as the access faults name it.
    s.setFaults({ exposeMethods: [{ method: 'get_camera_list', credential: 'expired' }] });
    assert.ok('result' in (await c.call('get_camera_list')));
    assert.equal(errorOf(await c.call('ping'))?.code, -32001);
    s.setFaults({});

    assert.equal(errorOf(await c.call('authenticate', { auth_token: token }))?.code, -32003, 'the expired token cannot reopen it');
    assert.deepEqual(errorOf(await c.call('ping')), { code: -32001, message: 'Authentication required' });
    await c.authenticate(await mint('viewer'));
    assert.equal((await c.call('ping')).result, 'pong');
  });

  test('ignoreTokenExpiry keeps the session answering after exp; a per-call or fresh use of the token is still refused', async (t) => {
    const s = await sim(t, { pingIntervalMs: 20, faults: { ignoreTokenExpiry: true } });
    const c = await open(t, s);
    const exp = oneSecondExp();
    const token = await mint('operator', exp);
    await c.authenticate(token);
    await c.until('ping', () => Date.now() >= exp * 1000);
    assert.equal((await c.call('ping')).result, 'pong');
    assert.ok('result' in (await c.call('take_snapshot', { device: 'camera0' })), 'with its role');
    assert.equal(errorOf(await c.call('ping', { auth_token: token }))?.code, -32001);

    s.setFaults({}); // read at each call: a correct service again
    assert.deepEqual(errorOf(await c.call('ping')), { code: -32001, message: 'Token expired' });
    s.setFaults({ ignoreTokenExpiry: true });
    assert.equal((await c.call('ping')).result, 'pong');
    assert.equal(errorOf(await c.call('authenticate', { auth_token: token }))?.code, -32003);
    assert.equal(errorOf(await c.call('ping'))?.code, -32001, 'the refused authenticate ended the session');
  });
});

// --- who gets notifications ----------------------------------------------------------------

/** Flushes each client: a notification the server sent it before now has arrived. */
async function flushAll(...clients: Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.flush()));
}

describe('notifications reach valid sessions only', () => {
  test('the timer skips connections that never authenticated, only called per call, or were refused', async (t) => {
    const s = await sim(t, { notificationIntervalMs: 5 });
    const [session, keyed, anonymous, perCall, refused] = [
      await open(t, s), await open(t, s), await open(t, s), await open(t, s), await open(t, s),
    ];
    await session.authenticate(await mint('viewer'));
    await keyed.authenticate(API_KEY);
    assert.equal((await perCall.call('ping', { auth_token: API_KEY })).result, 'pong');
    assert.equal(errorOf(await refused.call('authenticate', { auth_token: 'not.a.jwt' }))?.code, -32003);

    await Promise.all([session, keyed].map((c) => c.until('notification', () => c.notifications.length >= 3)));
    await flushAll(anonymous, perCall, refused);
    for (const c of [anonymous, perCall, refused]) assert.deepEqual(c.notifications, []);
    for (const n of [...session.notifications, ...keyed.notifications]) {
      assert.equal((n as Json).method, 'camera_status_update');
      assert.equal((n as Json).id, undefined);
    }
    await flushAll(session, keyed);
    assert.ok(s.stats().notificationsSent >= session.notifications.length + keyed.notifications.length);
  });

  test('a session whose JWT expired stops getting them, and gets them again once re-authenticated', async (t) => {
    const s = await sim(t, { notificationIntervalMs: 10, pingIntervalMs: 20 });
    const [c, keyed] = [await open(t, s), await open(t, s)];
    const exp = oneSecondExp();
    await c.authenticate(await mint('viewer', exp));
    await keyed.authenticate(API_KEY);
    await c.until('notification', () => c.notifications.length >= 1);
    await c.until('ping', () => Date.now() >= exp * 1000);
    await c.flush(); // whatever was sent before the expiry has arrived
    const before = c.notifications.length;
    const seen = keyed.notifications.length;
    await keyed.until('notification', () => keyed.notifications.length >= seen + 3);
    await c.flush();
    assert.equal(c.notifications.length, before, 'none after exp');
    await c.authenticate(await mint('viewer'));
    await c.until('notification', () => c.notifications.length > before);
  });

  test('under ignoreTokenExpiry an expired session keeps getting them', async (t) => {
    const s = await sim(t, { notificationIntervalMs: 10, pingIntervalMs: 20, faults: { ignoreTokenExpiry: true } });
    const c = await open(t, s);
    const exp = oneSecondExp();
    await c.authenticate(await mint('viewer', exp));
    await c.until('ping', () => Date.now() >= exp * 1000);
    await c.flush();
    const before = c.notifications.length;
    await c.until('notification', () => c.notifications.length >= before + 3);
  });

  test('notifyUnauthenticated sends them to every connection, from the next one on', async (t) => {
    const s = await sim(t, { notificationIntervalMs: 5 });
    const [session, anonymous] = [await open(t, s), await open(t, s)];
    await session.authenticate(API_KEY);
    await session.until('notification', () => session.notifications.length >= 2);
    await anonymous.flush();
    assert.equal(anonymous.notifications.length, 0);
    s.setFaults({ notifyUnauthenticated: true });
    await anonymous.until('notification', () => anonymous.notifications.length >= 3);
    assert.equal((anonymous.notifications[0] as Json).method, 'camera_status_update');
    s.setFaults({});
    await anonymous.flush();
    const leaked = anonymous.notifications.length;
    const seen = session.notifications.length;
    await session.until('notification', () => session.notifications.length >= seen + 3);
    await anonymous.flush();
    assert.equal(anonymous.notifications.length, leaked, 'none once the fault is cleared');
  });
});

// --- emitting notifications --------------------------------------------------------------------

async function postNotify(s: Simulator, body: string): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${s.httpUrl}/control/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, json: (await res.json()) as Json };
}

describe('notify() and POST /control/notify', () => {
  test('notify() sends the message as given, now, to the sessions only, and says to how many', async (t) => {
    const s = await sim(t);
    const [a, b, anonymous] = [await open(t, s), await open(t, s), await open(t, s)];
    await a.authenticate(API_KEY);
    await b.authenticate(await mint('admin'));
    const params = { device: 'camera0', status: 'RECORDING', filename: 'camera0_1.mp4' };
    assert.equal(s.notify('recording_status_update', params), 2);
    assert.equal(s.notify('camera_status_update'), 2);
    for (const c of [a, b]) {
      await c.until('notification', () => c.notifications.length >= 2);
      assert.deepEqual(c.notifications, [
        { jsonrpc: '2.0', method: 'recording_status_update', params },
        { jsonrpc: '2.0', method: 'camera_status_update' },
      ]);
    }
    await anonymous.flush();
    assert.deepEqual(anonymous.notifications, []);
    assert.equal(s.stats().notificationsSent, 4);

    s.setFaults({ notifyUnauthenticated: true });
    assert.equal(s.notify('camera_status_update', { device: 'camera1', status: 'DISCONNECTED' }), 3);
    await anonymous.until('notification', () => anonymous.notifications.length === 1);
    s.setFaults({ refuseValidCredentials: true }); // no session is valid any more
    assert.equal(s.notify('camera_status_update', { device: 'camera1', status: 'CONNECTED' }), 0);
  });

  test('notify() refuses a bad method or params with a TypeError', async (t) => {
    const s = await sim(t);
    for (const method of ['', 'x'.repeat(65), 42 as unknown as string]) {
      assert.throws(() => s.notify(method), { name: 'TypeError', message: /"method" must be a string of 1 to 64 characters/ });
    }
    for (const params of [[], null, 'camera0'] as unknown as Json[]) {
      assert.throws(() => s.notify('camera_status_update', params), { name: 'TypeError', message: /"params" must be a JSON object/ });
    }
    assert.equal(s.notify('x'.repeat(64)), 0);
  });

  test('POST /control/notify delivers and answers {sent}; every bad body is refused with the reason', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    await c.authenticate(API_KEY);
    const message = { method: 'camera_status_update', params: { device: 'camera0', status: 'ERROR' } };
    assert.deepEqual(await postNotify(s, JSON.stringify(message)), { status: 200, json: { sent: 1 } });
    await c.until('notification', () => c.notifications.length === 1);
    assert.deepEqual(c.notifications[0], { jsonrpc: '2.0', ...message });
    assert.deepEqual(await postNotify(s, '{"method":"camera_status_update"}'), { status: 200, json: { sent: 1 } });

    const refused: Array<[string, RegExp]> = [
      ['{', /body must be JSON/],
      ['[]', /body must be a JSON object/],
      ['{}', /"method" must be a string of 1 to 64/],
      ['{"method":""}', /"method" must be a string/],
      [JSON.stringify({ method: 'x'.repeat(65) }), /"method" must be a string/],
      ['{"method":7}', /"method" must be a string/],
      ['{"method":"m","params":[1]}', /"params" must be a JSON object/],
      ['{"method":"m","params":null}', /"params" must be a JSON object/],
      ['{"method":"m","id":1}', /unknown field "id"/],
    ];
    for (const [body, reason] of refused) {
      const { status, json } = await postNotify(s, body);
      assert.equal(status, 400, body);
      assert.match(String(json.error), reason, body);
    }
    const huge = await postNotify(s, JSON.stringify({ method: 'm', params: { pad: 'x'.repeat(70_000) } }));
    assert.equal(huge.status, 413);
    assert.equal((await fetch(`${s.httpUrl}/control/notify`)).status, 404, 'GET');
    await c.flush();
    assert.equal(c.notifications.length, 2, 'nothing refused was sent');
    assert.equal(s.stats().notificationsSent, 2);
  });
});

// --- notification faults -----------------------------------------------------------------------

/** Whether a notification has the documented shape: params an object with string device and status. */
function wellFormed(n: unknown): boolean {
  const params = (n as Json).params;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return false;
  return typeof (params as Json).device === 'string' && typeof (params as Json).status === 'string';
}

describe('notification faults', () => {
  test('stallNotifications: neither the timer nor notify sends any; notificationFlood still floods', async (t) => {
    const s = await sim(t, { notificationIntervalMs: 5, pingIntervalMs: 5, faults: { stallNotifications: true } });
    const c = await open(t, s);
    await c.authenticate(API_KEY);
    assert.equal(s.notify('camera_status_update', { device: 'camera0', status: 'CONNECTED' }), 0);
    assert.deepEqual(await postNotify(s, '{"method":"camera_status_update"}'), { status: 200, json: { sent: 0 } });
    await c.until('ping', () => c.pings >= 10); // ten timer ticks at least
    await c.flush();
    assert.deepEqual(c.notifications, []);
    assert.equal(s.stats().notificationsSent, 0);

    s.setFaults({ stallNotifications: true, notificationFlood: 2 });
    assert.equal((await c.call('ping')).result, 'pong');
    assert.equal(c.notifications.length, 2, 'the flood came before the answer');

    s.setFaults({});
    await c.until('notification', () => c.notifications.length >= 3);
  });

  test('malformedNotifications breaks them in turn: params a JSON string, without device, without status', async (t) => {
    const s = await sim(t);
    const c = await open(t, s);
    await c.authenticate(API_KEY);
    s.setFaults({ malformedNotifications: true });
    const params = { device: 'camera0', status: 'CONNECTED', name: 'Camera 0' };
    for (let i = 0; i < 4; i += 1) assert.equal(s.notify('camera_status_update', params), 1);
    await c.until('notification', () => c.notifications.length === 4);
    const method = 'camera_status_update';
    assert.deepEqual(c.notifications, [
      { jsonrpc: '2.0', method, params: JSON.stringify(params) },
      { jsonrpc: '2.0', method, params: { status: 'CONNECTED', name: 'Camera 0' } },
      { jsonrpc: '2.0', method, params: { device: 'camera0', name: 'Camera 0' } },
      { jsonrpc: '2.0', method, params: JSON.stringify(params) },
    ]);
    s.setFaults({});
    s.notify(method, params);
    await c.until('notification', () => c.notifications.length === 5);
    assert.deepEqual(c.notifications[4], { jsonrpc: '2.0', method, params });
  });

  test("malformedNotifications breaks the timer's too; correct ones are well formed", async (t) => {
    const s = await sim(t, { notificationIntervalMs: 5 });
    const c = await open(t, s);
    await c.authenticate(API_KEY);
    await c.until('notification', () => c.notifications.length >= 2);
    assert.ok(c.notifications.every(wellFormed), JSON.stringify(c.notifications));
    s.setFaults({ malformedNotifications: true });
    await c.flush();
    const before = c.notifications.length;
    await c.until('notification', () => c.notifications.length >= before + 3);
    const broken = c.notifications.slice(before);
    assert.ok(broken.every((n) => !wellFormed(n) && (n as Json).method === 'camera_status_update'), JSON.stringify(broken));
    // Three in a row are the three kinds, whichever came first.
    const kinds = broken.slice(0, 3).map((n) => {
      const params = (n as Json).params;
      if (typeof params === 'string') return 'params_not_object';
      return 'device' in (params as Json) ? 'missing_status' : 'missing_device';
    });
    assert.deepEqual(kinds.sort(), ['missing_device', 'missing_status', 'params_not_object']);
  });
});

// --- dropped connections ----------------------------------------------------------------------

describe('dropAfterMs', () => {
  test('drops every connection that long after its upgrade, without a close frame by default', async (t) => {
    const s = await sim(t, { faults: { dropAfterMs: 30 } });
    for (let i = 0; i < 2; i += 1) {
      const started = performance.now();
      const c = await open(t, s);
      await c.authenticate(API_KEY); // a session is dropped like any connection
      assert.equal(await c.closed(), 1006);
      assert.ok(performance.now() - started >= 29, `dropped after ${performance.now() - started} ms`);
    }
    assert.equal(s.stats().drops, 2);
  });

  test('dropCode closes with that code instead', async (t) => {
    const s = await sim(t, { faults: { dropAfterMs: 10, dropCode: 4000 } });
    assert.equal(await (await open(t, s)).closed(), 4000);
    s.setFaults({ dropAfterMs: 10, dropCode: 1001 });
    assert.equal(await (await open(t, s)).closed(), 1001);
    assert.equal(s.stats().drops, 2);
  });

  test('set on open connections it drops those past their time at once; cleared, it cancels the pending drops', async (t) => {
    const s = await sim(t, { pingIntervalMs: 10 });
    const old = await open(t, s);
    await old.until('ping', () => old.pings >= 3); // 30 ms at least since its upgrade
    s.setFaults({ dropAfterMs: 20 });
    assert.equal(await old.closed(), 1006);

    s.setFaults({ dropAfterMs: 200 });
    const spared = await open(t, s);
    s.setFaults({});
    await spared.until('ping', () => spared.pings >= 25); // well past 200 ms
    assert.equal(spared.ws.readyState, WebSocket.OPEN);
    assert.equal((await spared.call('ping', { auth_token: API_KEY })).result, 'pong');
    assert.equal(s.stats().drops, 1);
  });
});

// --- the session faults, validated like the others ------------------------------------------

describe('session faults are validated like the others', () => {
  const BOOLEAN_FAULTS = ['noServerPings', 'stallNotifications', 'malformedNotifications', 'ignoreTokenExpiry', 'notifyUnauthenticated'];

  test('the flags take booleans only', () => {
    for (const fault of BOOLEAN_FAULTS) {
      assert.deepEqual(validateFaults({ [fault]: true }), { faults: { [fault]: true } }, fault);
      assert.deepEqual(validateFaults({ [fault]: false }), { faults: { [fault]: false } }, fault);
      assert.deepEqual(validateFaults({ [fault]: 'yes' }), { error: `fault "${fault}" must be a boolean` }, fault);
    }
  });

  test('dropAfterMs takes milliseconds, dropCode a close code and only with dropAfterMs', () => {
    assert.deepEqual(validateFaults({ dropAfterMs: 0, dropCode: 4001 }), { faults: { dropAfterMs: 0, dropCode: 4001 } });
    assert.match((validateFaults({ dropAfterMs: -1 }) as { error: string }).error, /^fault "dropAfterMs" must be a number of milliseconds/);
    assert.match((validateFaults({ dropAfterMs: 2 ** 31 }) as { error: string }).error, /^fault "dropAfterMs" must be a number of milliseconds/);
    for (const dropCode of [1005, 999, 5000, 'x']) {
      assert.match((validateFaults({ dropAfterMs: 5, dropCode }) as { error: string }).error, /^fault "dropCode" must be a WebSocket close code/);
    }
    assert.deepEqual(validateFaults({ dropCode: 1006 }), { error: 'fault "dropCode" needs "dropAfterMs"' });
  });

  test('stallNotifications refuses the notification faults that could never apply with it', () => {
    for (const other of ['malformedNotifications', 'notifyUnauthenticated']) {
      assert.deepEqual(validateFaults({ stallNotifications: true, [other]: true }), {
        error: `fault "${other}" never applies with "stallNotifications", which sends no notification`,
      });
      assert.ok('faults' in validateFaults({ stallNotifications: false, [other]: true }));
    }
  });
});

describe('session faults are settable everywhere faults are', () => {
  const FAULTS = { dropAfterMs: 40, dropCode: 4000, noServerPings: true, malformedNotifications: true, ignoreTokenExpiry: true, notifyUnauthenticated: true };

  test('PUT /control/faults takes them, GET shows them, and a bad one is refused with the reason', async (t) => {
    const s = await sim(t);
    const put = (body: string): Promise<Response> => fetch(`${s.httpUrl}/control/faults`, { method: 'PUT', body });
    const ok = await put(JSON.stringify(FAULTS));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { current: FAULTS });
    const shown = (await (await fetch(`${s.httpUrl}/control/faults`)).json()) as { current: unknown; available: Record<string, string> };
    assert.deepEqual(shown.current, FAULTS);
    for (const name of Object.keys(FAULTS)) assert.ok(name in shown.available, `${name} is listed as available`);
    assert.deepEqual(s.getFaults(), FAULTS);
    assert.equal(await (await open(t, s)).closed(), 4000, 'and they apply');

    const bad = await put('{"dropCode":4000}');
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'fault "dropCode" needs "dropAfterMs"' });
    assert.throws(() => s.setFaults({ stallNotifications: true, notifyUnauthenticated: true }), TypeError);
    assert.deepEqual(s.getFaults(), FAULTS, 'a refused set changes nothing');
  });

  const CLI = fileURLToPath(new URL('../src/simulator/cli.js', import.meta.url));
  const env = { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET };

  test('--help lists --ping-interval-ms and POST /control/notify', () => {
    const help = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    assert.match(help, /^ {2}--ping-interval-ms N +.*default 30000/m);
    assert.match(help, /POST \/control\/notify/);
    for (const fault of [...Object.keys(FAULTS), 'stallNotifications']) assert.match(help, new RegExp(`^  ${fault} +\\S`, 'm'), fault);
  });

  test('--faults and --ping-interval-ms set them on the command line; a bad set exits 2 with the reason', async (t) => {
    const bad = spawnSync(process.execPath, [CLI, '--port', '0', '--faults', '{"dropCode":1006}'], { env, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^--faults: fault "dropCode" needs "dropAfterMs"/);

    const args = ['--port', '0', '--ping-interval-ms', '10', '--faults', JSON.stringify({ dropAfterMs: 100, dropCode: 4002 })];
    const { line, stop } = await startSimulatorCli(t, args, env);
    const url = /listening on (\S+)/.exec(line)?.[1];
    assert.ok(url, line);
    const c = new Client(new WebSocket(url));
    await once(c.ws, 'open');
    const code = await c.closed();
    assert.ok(c.pings >= 3, `${c.pings} pings before the drop`);
    assert.equal(code, 4002);
    assert.deepEqual(await stop(), [0, null]);
  });
});

// --- close() ------------------------------------------------------------------------------------

describe('close()', () => {
  test('clears every ping and drop timer and closes every session', async () => {
    const ignored = new Set(['TTYWrap', 'PipeWrap', 'FSReqCallback']);
    const count = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) if (!ignored.has(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
      return counts;
    };
    const before = count();

    const s = await startSimulator({
      jwtSecret: SECRET,
      apiKeys: [{ key: API_KEY, role: 'viewer' }],
      pingIntervalMs: 5,
      notificationIntervalMs: 5,
      faults: { dropAfterMs: 60_000 }, // pending on each connection when close() comes
    });
    const clients = await Promise.all([0, 1, 2].map(async () => {
      const c = new Client(new WebSocket(s.url));
      await once(c.ws, 'open');
      return c;
    }));
    const [session, anonymous] = clients as [Client, Client, Client];
    await session.authenticate(await mint('viewer'));
    await session.until('notification', () => session.notifications.length >= 1);
    await Promise.all(clients.map((c) => c.until('ping', () => c.pings >= 2)));
    assert.equal(anonymous.notifications.length, 0);

    const closed = clients.map((c) => c.closed());
    await s.close();
    await Promise.all([...closed, s.close()]);
    const after = count();
    for (const [resource, n] of after) {
      assert.ok(n <= (before.get(resource) ?? 0), `${resource}: ${before.get(resource) ?? 0} before, ${n} after`);
    }
    const stats = s.stats();
    assert.equal(stats.openConnections, 0);
    assert.equal(stats.drops, 0, 'closing is not a drop');
  });
});
