/**
 * A small controllable TCP proxy for outage tests: point a client (mysql2, node-redis, BullMQ…) at the
 * proxy instead of the real server, then `cut()` to simulate the server or the network going away and
 * `restore()` to bring it back.
 *
 *   const proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: 6379 });
 *   const redis = createClient({ url: `redis://127.0.0.1:${proxy.port}` });
 *   proxy.cut();      // every open connection is reset; new ones are accepted and reset at once
 *   proxy.restore();  // new connections are proxied again
 *   await proxy.close();
 */
import net from 'node:net';

export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Interface to listen on (default 127.0.0.1). */
  listenHost?: string;
  /** Port to listen on (default 0: any free port; read it from `port`). */
  listenPort?: number;
}

export interface TcpProxy {
  /** The port the proxy listens on. */
  readonly port: number;
  /** The interface the proxy listens on. */
  readonly host: string;
  /** Resets every open connection, and resets new ones as soon as they are accepted, until `restore()`. */
  cut(): void;
  /** Proxies new connections again (connections reset by `cut()` stay gone: clients must reconnect). */
  restore(): void;
  /** Whether the proxy is cut. */
  isCut(): boolean;
  /** Number of client connections being proxied right now. */
  connections(): number;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

/** A reset (RST) rather than a polite FIN, so clients notice at once, as when a server dies. */
function kill(socket: net.Socket): void {
  if (socket.destroyed) return;
  // resetAndDestroy() throws ERR_SOCKET_CLOSED on a socket that has no handle yet (still connecting).
  if (socket.connecting || socket.pending) socket.destroy();
  else socket.resetAndDestroy();
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const { targetHost, targetPort } = options;
  const listenHost = options.listenHost ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let isCut = false;

  const server = net.createServer({ noDelay: true }, (client) => {
    client.on('error', () => {}); // a reset client is expected here, not a test failure
    if (isCut) {
      kill(client);
      return;
    }
    const upstream = net.connect({ host: targetHost, port: targetPort, noDelay: true });
    upstream.on('error', () => {});
    const pair: Pair = { client, upstream };
    pairs.add(pair);

    // pipe() forwards data and a graceful end in each direction; an error or a reset on one side
    // resets the other, and the pair is forgotten once both sides are closed.
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', (hadError) => {
      if (hadError) kill(upstream);
      else if (!upstream.destroyed) upstream.end();
      if (upstream.destroyed) pairs.delete(pair);
    });
    upstream.on('close', (hadError) => {
      if (hadError) kill(client);
      else if (!client.destroyed) client.end();
      if (client.destroyed) pairs.delete(pair);
    });
  });

  const killAll = (): void => {
    for (const pair of pairs) {
      kill(pair.client);
      kill(pair.upstream);
    }
    pairs.clear();
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    host: listenHost,
    cut() {
      isCut = true;
      killAll();
    },
    restore() {
      isCut = false;
    },
    isCut: () => isCut,
    connections: () => pairs.size,
    close() {
      isCut = true;
      killAll();
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
      });
    },
  };
}
