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
