/**
 * Server notifications as the simulator sends them.
 */

/** A JSON-RPC notification from the server: a method, no id. */
export interface SimNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}
