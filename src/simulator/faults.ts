/**
 * The simulator's fault set: what can be injected, and the one validator that setFaults,
 * `PUT /control/faults` and the CLI's `--faults` share.
 */

export type Role = 'viewer' | 'operator' | 'admin';

/**
 * The credential classes a protected method must refuse: `none` (nothing presented),
 * `forged` (JWT signed with another key), `expired` (correctly signed, `exp` past),
 * `alg_none` (unsigned JWT), `malformed` (not a JWT at all), `role_too_low` (valid, but
 * its role is below the method's).
 */
export const CREDENTIAL_CLASSES = ['none', 'forged', 'expired', 'alg_none', 'malformed', 'role_too_low'] as const;
export type CredentialClass = (typeof CREDENTIAL_CLASSES)[number];

/** Misbehaviour to inject. Each field applies to every request unless its comment says otherwise. */
export interface SimulatorFaults {
  /** Added before every response (all methods). */
  latencyMs?: number;
  /** Added before the response of those methods. */
  methodLatencyMs?: Record<string, number>;
  /** Every credential, even valid, is refused: `authenticate` → -32003, per call or session → -32001. */
  refuseValidCredentials?: boolean;
  /** Security regression: authentication and roles are not enforced at all. */
  exposeProtected?: boolean;
  /** `get_camera_list` answers `total` != `cameras.length`. */
  malformedCameraList?: boolean;
  /** Every request answered with error -32002. */
  rateLimited?: boolean;
  /** Never answers any request (the connection stays open). */
  silent?: boolean;
  /** Answers with a text frame that is not JSON. */
  notJson?: boolean;
  /** Answers JSON without `jsonrpc: "2.0"` and without `result`/`error`. */
  notJsonRpc?: boolean;
  /** Answers with another id. */
  wrongId?: boolean;
  /** Sends each response twice. */
  duplicateResponse?: boolean;
  /** Sends each response as a binary frame. */
  binaryFrame?: boolean;
  /** Answers `error: "<message>"` (a string) instead of an error object, even for successes. */
  badErrorShape?: boolean;
  /** Pads each valid response with trailing JSON whitespace to this many bytes. */
  oversizeFrameBytes?: number;
  /** Close code sent right after the upgrade (1006: drop the TCP connection, no close frame). */
  closeAfterUpgrade?: number;
  /** Close with this code when a request arrives, instead of answering (1006: drop). */
  closeOnRequest?: number;
  /** Fragments each response into continuation frames sent this many ms apart. */
  trickleMs?: number;
  /**
   * Sends this many `camera_status_update` notifications before each response, to the
   * connection that called (session or not: the flood is the fault).
   */
  notificationFlood?: number;
  /** Refuses the WebSocket upgrade with this HTTP status (401, 404, 503...). */
  upgradeStatus?: number;
  /** Accepts TCP but never answers the HTTP upgrade request. */
  hangUpgrade?: boolean;
  /** `GET /health/ready` answers 503 (also the case when `upgradeStatus` is 503). */
  healthNotReady?: boolean;

  // --- long-held sessions: what a client holding one connection for hours sees ------------

  /**
   * Every served connection is dropped this many ms after its upgrade, the way a proxy or a
   * restarting service cuts long-held sessions. Applies to the connections open when it is
   * set too (one whose time is past is dropped at once); clearing it cancels the drops still
   * pending. Counted in `stats().drops`.
   */
  dropAfterMs?: number;
  /**
   * How `dropAfterMs` drops: 1006 (the default) ends the TCP connection without a close
   * frame; any other close code is sent in a close frame. Only with `dropAfterMs`.
   */
  dropCode?: number;
  /** The server stops sending WebSocket ping frames (`SimulatorOptions.pingIntervalMs`). */
  noServerPings?: boolean;
  /**
   * No notification is sent at all: neither the `notificationIntervalMs` timer's nor those
   * emitted by `notify()` / `POST /control/notify` (which then report `sent: 0`).
   * `notificationFlood`, a fault of its own, still floods. Not with the two faults below,
   * which would never apply.
   */
  stallNotifications?: boolean;
  /**
   * Notifications (the timer's and emitted ones) are sent with a broken shape, one kind after
   * the other (MALFORMED_NOTIFICATION_KINDS in notifications.ts): `params` JSON-encoded as a
   * string instead of an object, `params` without `device`, `params` without `status`.
   */
  malformedNotifications?: boolean;
  /**
   * Security regression: notifications also go to connections without a valid session
   * (never authenticated, refused, or expired): camera state leaks to anyone who connects.
   */
  notifyUnauthenticated?: boolean;
  /**
   * Security regression: a session opened with a JWT stays valid after the token's `exp`
   * (calls on it keep answering, notifications keep coming). A token presented after its `exp` (per call or to
   * `authenticate`) is still refused.
   */
  ignoreTokenExpiry?: boolean;

  // --- the access matrix: one method × one credential class at a time ---------------------
  // `unknownMethods` is checked first, then `exposeProtected`; a (method, class) pair may
  // appear once across `exposeMethods` and `refusalErrors`. Names must be methods the
  // simulator knows (its table, `SimulatorOptions.methodRoles` or this `methodRoles`), and
  // role_too_low is refused for a method that needs viewer: no valid role is below it.

  /**
   * Security regression: `method` answers normally when called with `credential`, per call
   * (`auth_token` in the params) and on a session (no token: the class of the last token
   * `authenticate` was given on the connection counts, even if it refused it; `none` when it
   * never was called; `expired` once the JWT of a session has expired). "Normally" means after authorization: a result, or the method's own
   * errors (unknown camera or file, missing params). With `method: "authenticate"`, that
   * class is answered `{authenticated: true}` but no session is opened. Every other pair is
   * still refused.
   */
  exposeMethods?: ExposeMethodFault[];
  /**
   * Table drift at run time: the role each named method needs, over the table (and over
   * `SimulatorOptions.methodRoles`), e.g. `{"get_server_info": "viewer"}` for a lost entry.
   * A name the table lacks becomes a known method. Not `authenticate`, which needs no role.
   */
  methodRoles?: Record<string, Role>;
  /**
   * Instead of its refusal, `method` answers this JSON-RPC error to `credential` (per call
   * and on a session, as for `exposeMethods`): a call that got past where it should have
   * been refused, e.g. -32603 internal error or -32602 invalid params. `message` defaults to
   * the code's usual message. Not counted as executed.
   */
  refusalErrors?: RefusalErrorFault[];
  /** Those methods answer -32601 Method not found whatever the credential (table drift). */
  unknownMethods?: string[];
}

/** One entry of `SimulatorFaults.exposeMethods`. */
export interface ExposeMethodFault {
  method: string;
  credential: CredentialClass;
}

/** One entry of `SimulatorFaults.refusalErrors`. */
export interface RefusalErrorFault {
  method: string;
  credential: CredentialClass;
  /** An integer JSON-RPC error code. */
  code: number;
  message?: string;
}


const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's ceiling
const MAX_OVERSIZE_BYTES = 64 * 1024 * 1024;
const MAX_FLOOD = 10_000;
const MAX_FAULT_ENTRIES = 1000;
const MAX_METHOD_NAME = 100;
const MAX_MESSAGE = 200;

type Rule = (value: unknown) => string | undefined; // returns what is wrong, if anything

const boolean: Rule = (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean');
const millis: Rule = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_TIMER_MS
    ? undefined
    : `must be a number of milliseconds between 0 and ${MAX_TIMER_MS}`;
const intIn =
  (min: number, max: number): Rule =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? undefined
      : `must be an integer between ${min} and ${max}`;
const millisByMethod: Rule = (v) => {
  if (!isPlainObject(v)) return 'must be an object mapping method names to milliseconds';
  for (const [method, ms] of Object.entries(v)) {
    const problem = millis(ms);
    if (problem) return `entry "${method}" ${problem}`;
  }
  return undefined;
};
const closeCode: Rule = (v) =>
  Number.isInteger(v) && (v === 1006 || isSendableCloseCode(v as number))
    ? undefined
    : 'must be a WebSocket close code (1000-1003, 1007-1014, 3000-4999) or 1006 to drop the connection';

const methodName: Rule = (v) =>
  typeof v === 'string' && v.length > 0 && v.length <= MAX_METHOD_NAME
    ? undefined
    : `must be a method name (a string of 1 to ${MAX_METHOD_NAME} characters)`;
const credentialClass: Rule = (v) =>
  (CREDENTIAL_CLASSES as readonly unknown[]).includes(v) ? undefined : `must be one of ${CREDENTIAL_CLASSES.join(', ')}`;
const errorCode: Rule = (v) => (Number.isSafeInteger(v) ? undefined : 'must be an integer (a JSON-RPC error code)');
const errorMessage: Rule = (v) =>
  typeof v === 'string' && v.length > 0 && v.length <= MAX_MESSAGE ? undefined : `must be a string of 1 to ${MAX_MESSAGE} characters`;
const role: Rule = (v) => (isRole(v) ? undefined : 'must be viewer, operator or admin');

/** An array of at most MAX_FAULT_ENTRIES items, each checked by `item`. */
const listOf =
  (what: string, item: Rule): Rule =>
  (v) => {
    if (!Array.isArray(v)) return `must be an array of ${what}`;
    if (v.length > MAX_FAULT_ENTRIES) return `must have at most ${MAX_FAULT_ENTRIES} entries`;
    for (const [i, value] of v.entries()) {
      const problem = item(value);
      if (problem) return `entry ${i}: ${problem}`;
    }
    return undefined;
  };

/** An object with exactly these fields (the optional ones may be left out). */
const shape =
  (fields: Record<string, Rule>, optional: readonly string[] = []): Rule =>
  (v) => {
    const names = Object.keys(fields);
    if (!isPlainObject(v)) return `must be an object with ${names.join(', ')}`;
    for (const key of Object.keys(v)) if (!Object.hasOwn(fields, key)) return `unknown field "${key}" (fields: ${names.join(', ')})`;
    for (const [key, rule] of Object.entries(fields)) {
      if (v[key] === undefined) {
        if (optional.includes(key)) continue;
        return `"${key}" is missing`;
      }
      const problem = rule(v[key]);
      if (problem) return `"${key}" ${problem}`;
    }
    return undefined;
  };

const rolesByMethod: Rule = (v) => {
  if (!isPlainObject(v)) return 'must be an object mapping method names to viewer, operator or admin';
  const entries = Object.entries(v);
  if (entries.length > MAX_FAULT_ENTRIES) return `must have at most ${MAX_FAULT_ENTRIES} entries`;
  for (const [method, value] of entries) {
    const problem = methodName(method) ?? role(value);
    if (problem) return `entry "${method.slice(0, MAX_METHOD_NAME)}" ${problem}`;
    if (method === 'authenticate') return 'entry "authenticate": authenticate needs no role';
  }
  return undefined;
};

// Typed over every key, so adding a fault field without a rule does not compile.
const FAULT_RULES: Record<keyof SimulatorFaults, Rule> = {
  latencyMs: millis,
  methodLatencyMs: millisByMethod,
  refuseValidCredentials: boolean,
  exposeProtected: boolean,
  malformedCameraList: boolean,
  rateLimited: boolean,
  silent: boolean,
  notJson: boolean,
  notJsonRpc: boolean,
  wrongId: boolean,
  duplicateResponse: boolean,
  binaryFrame: boolean,
  badErrorShape: boolean,
  oversizeFrameBytes: intIn(0, MAX_OVERSIZE_BYTES),
  closeAfterUpgrade: closeCode,
  closeOnRequest: closeCode,
  trickleMs: millis,
  notificationFlood: intIn(0, MAX_FLOOD),
  upgradeStatus: intIn(300, 599),
  hangUpgrade: boolean,
  healthNotReady: boolean,
  dropAfterMs: millis,
  dropCode: closeCode,
  noServerPings: boolean,
  stallNotifications: boolean,
  malformedNotifications: boolean,
  notifyUnauthenticated: boolean,
  ignoreTokenExpiry: boolean,
  exposeMethods: listOf('{method, credential}', shape({ method: methodName, credential: credentialClass })),
  methodRoles: rolesByMethod,
  refusalErrors: listOf(
    '{method, credential, code, message?}',
    shape({ method: methodName, credential: credentialClass, code: errorCode, message: errorMessage }, ['message']),
  ),
  unknownMethods: listOf('method names', methodName),
};

/**
 * One line per fault for `--help`: its JSON type, then what it does. Typed over every key,
 * so a fault without a line does not compile.
 */
export const FAULT_HELP: Readonly<Record<keyof SimulatorFaults, readonly [type: string, summary: string]>> = {
  latencyMs: ['ms', 'added before every response'],
  methodLatencyMs: ['{method: ms}', 'added before the responses of those methods'],
  refuseValidCredentials: ['bool', 'every credential refused, valid ones too (-32003 on authenticate, -32001 on calls)'],
  exposeProtected: ['bool', 'security regression: no authentication or role checks at all'],
  malformedCameraList: ['bool', 'get_camera_list answers total != cameras.length'],
  rateLimited: ['bool', 'every request answered -32002'],
  silent: ['bool', 'never answers a request (the connection stays open)'],
  notJson: ['bool', 'answers a text frame that is not JSON'],
  notJsonRpc: ['bool', 'answers JSON without jsonrpc "2.0", result or error'],
  wrongId: ['bool', 'answers with another id'],
  duplicateResponse: ['bool', 'sends each response twice'],
  binaryFrame: ['bool', 'sends each response as a binary frame'],
  badErrorShape: ['bool', 'answers error: "<message>" (a string), even for successes'],
  oversizeFrameBytes: ['bytes', 'pads each response with JSON whitespace to this size'],
  closeAfterUpgrade: ['code', 'closes with this code right after the upgrade (1006: drop TCP)'],
  closeOnRequest: ['code', 'closes with this code when a request arrives (1006: drop TCP)'],
  trickleMs: ['ms', 'sends each response in continuation frames this far apart'],
  notificationFlood: ['n', 'sends n camera_status_update notifications before each response'],
  upgradeStatus: ['status', 'refuses the WebSocket upgrade with this HTTP status'],
  hangUpgrade: ['bool', 'accepts TCP but never answers the upgrade'],
  healthNotReady: ['bool', 'GET /health/ready answers 503'],
  dropAfterMs: ['ms', 'drops every connection this long after its upgrade (those open when set, too)'],
  dropCode: ['code', 'how dropAfterMs drops: 1006 (default) ends TCP without a close frame, else this close code'],
  noServerPings: ['bool', 'the server stops sending WebSocket ping frames'],
  stallNotifications: ['bool', 'no notification is sent at all (timer and notify; not notificationFlood)'],
  malformedNotifications: ['bool', 'notifications in turn: params a JSON string, params without device, without status'],
  notifyUnauthenticated: ['bool', 'security regression: notifications also go to connections without a valid session'],
  ignoreTokenExpiry: ['bool', "security regression: a JWT session stays valid after the token's exp"],
  exposeMethods: ['[{method, credential}]', 'that method answers that credential class normally, per call and on a session'],
  methodRoles: ['{method: role}', 'the role a method needs, changed at run time (a lost or drifted table entry)'],
  refusalErrors: ['[{method, credential, code, message?}]', 'that error instead of the refusal of that credential class'],
  unknownMethods: ['[method]', 'those methods answer -32601 whatever the credential'],
};

/** Every fault, one line each (`"latencyMs": "ms: added before every response"`), for GET /control/faults. */
export function faultCatalogue(): Record<string, string> {
  return Object.fromEntries(Object.entries(FAULT_HELP).map(([name, [type, summary]]) => [name, `${type}: ${summary}`]));
}

/**
 * Checks a fault set from outside (JSON body, CLI flag): one exact message per mistake.
 * With `table` (the simulator's method → role table), the access faults must also name
 * methods it knows, and role_too_low only methods above viewer: a fault that could never
 * apply would let a test pass for the wrong reason.
 */
export function validateFaults(input: unknown, table?: Readonly<Record<string, Role>>): { faults: SimulatorFaults } | { error: string } {
  if (!isPlainObject(input)) return { error: 'faults must be a JSON object' };
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(FAULT_RULES, key)) {
      return { error: `unknown fault "${key}"; known faults: ${Object.keys(FAULT_RULES).join(', ')}` };
    }
    if (value === undefined) continue;
    const problem = FAULT_RULES[key as keyof SimulatorFaults](value);
    if (problem) return { error: `fault "${key}" ${problem}` };
  }
  const faults = structuredClone(input) as SimulatorFaults;
  const problem = sessionConflict(faults) ?? accessConflict(faults, table);
  return problem ? { error: problem } : { faults };
}

/** Session faults that could never apply with the rest of the set. */
function sessionConflict(faults: SimulatorFaults): string | undefined {
  if (faults.dropCode !== undefined && faults.dropAfterMs === undefined) return 'fault "dropCode" needs "dropAfterMs"';
  if (!faults.stallNotifications) return undefined;
  for (const other of ['malformedNotifications', 'notifyUnauthenticated'] as const) {
    if (faults[other]) return `fault "${other}" never applies with "stallNotifications", which sends no notification`;
  }
  return undefined;
}

/** What makes a well-typed access fault set ambiguous or without effect, if anything. */
function accessConflict(faults: SimulatorFaults, table: Readonly<Record<string, Role>> | undefined): string | undefined {
  const unknown = new Set(faults.unknownMethods ?? []);
  const drift = faults.methodRoles ?? {};
  for (const method of Object.keys(drift)) {
    if (unknown.has(method)) return `method "${method}" is in both methodRoles and unknownMethods, which answers -32601 whatever its role`;
  }
  const roleOf = (method: string): Role | undefined =>
    Object.hasOwn(drift, method) ? drift[method] : table && Object.hasOwn(table, method) ? table[method] : undefined;
  const seen = new Map<string, string>();
  const pairs: Array<[string, Array<{ method: string; credential: CredentialClass }>]> = [
    ['exposeMethods', faults.exposeMethods ?? []],
    ['refusalErrors', faults.refusalErrors ?? []],
  ];
  for (const [fault, entries] of pairs) {
    for (const [i, { method, credential }] of entries.entries()) {
      const where = `fault "${fault}" entry ${i}`;
      if (unknown.has(method)) return `${where}: method "${method}" is also in unknownMethods, which answers -32601 whatever the credential`;
      if (method === 'authenticate' && credential === 'role_too_low') {
        return `${where}: authenticate needs no role, so role_too_low never applies to it`;
      }
      if (table && method !== 'authenticate') {
        const role = roleOf(method);
        if (role === undefined) return `${where}: method "${method}" is not one the simulator knows (it answers -32601); add it with methodRoles`;
        if (role === 'viewer' && credential === 'role_too_low') {
          return `${where}: ${method} needs viewer, the lowest role, so role_too_low never applies to it`;
        }
      }
      const key = `${method} ${credential}`;
      const before = seen.get(key);
      if (before) return `${where}: ${method} with ${credential} is already in ${before}; each pair may appear once`;
      seen.set(key, `${fault} entry ${i}`);
    }
  }
  return undefined;
}

function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isRole(value: unknown): value is Role {
  return value === 'viewer' || value === 'operator' || value === 'admin';
}
