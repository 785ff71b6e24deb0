/** A real WebSocket server on a loopback port chosen by the OS, scripted per test. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface TestServer {
  url: string;
  port: number;
  /** Resolves when the next client connection has closed (server side). */
  nextClose(): Promise<{ code: number }>;
  /** Sockets currently open on the server. */
  openSockets(): number;
  /** Resolves once exactly `n` sockets are open (checked on every connect and close). */
  socketsOpen(n: number): Promise<void>;
  close(): Promise<void>;
}

export type Handler = (ws: WebSocket, req: IncomingMessage) => void;

/** Handler helper: answer each request with `respond(request)`; undefined means no answer. */
export function respondWith(respond: (msg: Record<string, any>, ws: WebSocket) => unknown): Handler {
  return (ws) => {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, any>;
      const out = respond(msg, ws);
      if (out !== undefined) ws.send(typeof out === 'string' ? out : JSON.stringify(out));
    });
  };
}

export async function startWsServer(handler: Handler, opts: { onUpgrade?: (req: IncomingMessage, socket: Socket) => boolean } = {}): Promise<TestServer> {
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Socket>();
  const closeWaiters: Array<(v: { code: number }) => void> = [];
  const countWaiters = new Set<{ n: number; resolve: () => void }>();
  const checkCount = () => {
    for (const w of countWaiters) {
      if (sockets.size === w.n) {
        countWaiters.delete(w);
        w.resolve();
      }
    }
  };
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    checkCount();
    s.on('close', () => {
      sockets.delete(s);
      checkCount();
    });
  });
  http.on('upgrade', (req, socket, head) => {
    if (opts.onUpgrade && !opts.onUpgrade(req, socket as Socket)) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('close', (code) => closeWaiters.shift()?.({ code }));
      handler(ws, req);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    nextClose: () => new Promise((resolve) => closeWaiters.push(resolve)),
    openSockets: () => sockets.size,
    socketsOpen: (n) =>
      new Promise<void>((resolve) => {
        countWaiters.add({ n, resolve });
        checkCount();
      }),
    close: async () => {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
