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
  /** Sends this many `camera_status_update` notifications before each response. */
  notificationFlood?: number;
  /** Refuses the WebSocket upgrade with this HTTP status (401, 404, 503...). */
  upgradeStatus?: number;
  /** Accepts TCP but never answers the HTTP upgrade request. */
  hangUpgrade?: boolean;
  /** `GET /health/ready` answers 503 (also the case when `upgradeStatus` is 503). */
  healthNotReady?: boolean;
}


const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's ceiling
const MAX_OVERSIZE_BYTES = 64 * 1024 * 1024;
const MAX_FLOOD = 10_000;

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
};

/** Checks a fault set from outside (JSON body, CLI flag): one exact message per mistake. */
export function validateFaults(input: unknown): { faults: SimulatorFaults } | { error: string } {
  if (!isPlainObject(input)) return { error: 'faults must be a JSON object' };
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(FAULT_RULES, key)) {
      return { error: `unknown fault "${key}"; known faults: ${Object.keys(FAULT_RULES).join(', ')}` };
    }
    if (value === undefined) continue;
    const problem = FAULT_RULES[key as keyof SimulatorFaults](value);
    if (problem) return { error: `fault "${key}" ${problem}` };
  }
  return { faults: structuredClone(input) as SimulatorFaults };
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
