/** Work on a held connection that must not outlive the run it belongs to. */
import type { RpcConnection } from '../rpc/client.js';
import type { ProbeContext } from './types.js';

/**
 * `work` on a held connection, bound to the run: if the run's deadline passes first, the
 * connection is closed (so the pending call fails and nothing hangs on past the run;
 * without this a silent service left one connection open per run). `onAbort` runs first.
 */
export async function boundToRun<T>(ctx: Pick<ProbeContext<unknown>, 'signal'>, conn: RpcConnection, work: () => Promise<T>, onAbort?: () => void): Promise<T> {
  const abort = () => {
    onAbort?.();
    void conn.close();
  };
  if (ctx.signal.aborted) abort();
  ctx.signal.addEventListener('abort', abort, { once: true });
  try {
    return await work();
  } finally {
    ctx.signal.removeEventListener('abort', abort);
  }
}
