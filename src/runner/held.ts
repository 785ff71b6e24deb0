/**
 * Connections a probe holds across its runs (the session probe's long-lived WebSocket):
 * owned by the prepared probe, not by a run, so a run ending does not close them; closed
 * when the probe is removed, changed or the daemon stops.
 */
import type { RpcConnection } from '../rpc/client.js';

export class HeldConnections {
  private readonly controller = new AbortController();
  private readonly open = new Set<RpcConnection>();

  /** Aborts a connection attempt still going when the holder closes. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Connections open now (bounded by what the probe holds: one or two). */
  get size(): number {
    return this.open.size;
  }

  add(conn: RpcConnection): void {
    this.open.add(conn);
    conn.onEnd(() => this.open.delete(conn));
  }

  /** Closes every held connection (close handshake, then terminate) and aborts attempts. */
  async close(): Promise<void> {
    const open = [...this.open];
    this.open.clear();
    await Promise.all(open.map((c) => c.close()));
    this.controller.abort();
  }
}
