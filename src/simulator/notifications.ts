/**
 * Server notifications as the simulator sends them, and what `notify()` and
 * `POST /control/notify` accept.
 */
import { isPlainObject } from './faults.js';

/** A JSON-RPC notification from the server: a method, no id. */
export interface SimNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export const MAX_NOTIFY_METHOD = 64;

/**
 * Checks a notification to emit: exactly `method` (a string of 1 to 64 characters) and,
 * optionally, `params` (a JSON object; its content is the caller's choice).
 */
export function validateNotification(input: unknown): { notification: SimNotification } | { error: string } {
  if (!isPlainObject(input)) return { error: 'body must be a JSON object with method and, optionally, params' };
  for (const key of Object.keys(input)) {
    if (key !== 'method' && key !== 'params') return { error: `unknown field "${key.slice(0, MAX_NOTIFY_METHOD)}" (fields: method, params)` };
  }
  const { method, params } = input;
  if (typeof method !== 'string' || method.length === 0 || method.length > MAX_NOTIFY_METHOD) {
    return { error: `"method" must be a string of 1 to ${MAX_NOTIFY_METHOD} characters` };
  }
  if (params === undefined) return { notification: { jsonrpc: '2.0', method } };
  if (!isPlainObject(params)) return { error: '"params" must be a JSON object when present' };
  return { notification: { jsonrpc: '2.0', method, params: structuredClone(params) } };
}

/**
 * What the `malformedNotifications` fault does to a notification, one kind after the
 * other: `params` JSON-encoded as a string (a double-encoding bug), `params` without its
 * `device`, `params` without its `status`.
 */
export const MALFORMED_NOTIFICATION_KINDS = ['params_not_object', 'missing_device', 'missing_status'] as const;
export type MalformedNotificationKind = (typeof MALFORMED_NOTIFICATION_KINDS)[number];

/** The `n`th malformed notification (n counted from 0): kind `n` modulo the number of kinds. */
export function malformNotification(notification: SimNotification, n: number): unknown {
  const kind: MalformedNotificationKind = MALFORMED_NOTIFICATION_KINDS[n % MALFORMED_NOTIFICATION_KINDS.length] ?? 'params_not_object';
  const params: Record<string, unknown> = { ...notification.params };
  if (kind === 'params_not_object') return { ...notification, params: JSON.stringify(params) };
  delete params[kind === 'missing_device' ? 'device' : 'status'];
  return { ...notification, params };
}
