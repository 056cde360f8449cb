import net from 'node:net';
import { once } from 'node:events';
import { expect } from 'chai';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/** An echo server on a free port. */
async function startEchoServer(): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, server };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Writes a message and resolves with the same number of bytes read back. */
async function echo(socket: net.Socket, message: string): Promise<string> {
  let received = '';
  const done = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= message.length) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after "${received}"`)));
  });
  socket.write(message);
  return done;
}

/** Resolves once the socket is closed (the tests' timeout catches one that never closes). */
function closed(socket: net.Socket): Promise<void> {
  // Not events.once(): it rejects on the 'error' (ECONNRESET) that comes with a reset.
  return socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('test support: TCP proxy', function () {
  this.timeout(5000); // a socket that hangs instead of closing fails fast

  let echoServer: { port: number; server: net.Server };
  let proxy: TcpProxy;
  const sockets: net.Socket[] = [];
  const open = async (port = proxy.port) => {
    const socket = await connect(port);
    sockets.push(socket);
    return socket;
  };

  beforeEach(async () => {
    echoServer = await startEchoServer();
    proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: echoServer.port, listenPort: 0 });
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await proxy.close();
    echoServer.server.close();
  });

  it('when connected, then bytes go through both ways and the connection is counted', async () => {
    expect(proxy.port).to.be.a('number').and.not.equal(echoServer.port);
    const socket = await open();
    expect(await echo(socket, 'hello')).to.equal('hello');
    expect(proxy.connections()).to.equal(1);
  });

  it('when the client ends, then the connection is no longer counted', async () => {
    const socket = await open();
    await echo(socket, 'x');
    socket.end();
    await closed(socket);
    await until(() => proxy.connections() === 0);
  });

  it('when cut, then an open client socket closes', async () => {
    const socket = await open();
    await echo(socket, 'before');
    proxy.cut();
    await closed(socket);
    expect(proxy.isCut()).to.equal(true);
    expect(proxy.connections()).to.equal(0);
  });

  it('when cut, then a new connection is accepted and closed at once', async () => {
    proxy.cut();
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
    sockets.push(socket);
    let error: NodeJS.ErrnoException | undefined;
    socket.on('error', (e) => (error = e));
    await closed(socket);
    // Accepted, then reset: never refused (the proxy still listens).
    expect(error?.code ?? 'closed').to.be.oneOf(['ECONNRESET', 'EPIPE', 'closed']);
    expect(proxy.connections()).to.equal(0);
  });

  it('when restored after a cut, then echo works again on a new connection', async () => {
    const first = await open();
    proxy.cut();
    await closed(first);
    proxy.restore();
    expect(proxy.isCut()).to.equal(false);
    const second = await open();
    expect(await echo(second, 'again')).to.equal('again');
  });

  it('when the target is down, then the client socket closes instead of hanging', async () => {
    await new Promise<void>((resolve) => echoServer.server.close(() => resolve()));
    const socket = await open();
    await closed(socket);
    await until(() => proxy.connections() === 0);
  });

  it('when closed, then new connections are refused', async () => {
    await proxy.close();
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
    const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).to.equal('ECONNREFUSED');
    proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: echoServer.port }); // for afterEach
  });
});
