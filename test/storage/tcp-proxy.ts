// A TCP proxy a test can close and reopen on the same port, to cut a store off from its database.

import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Accepts and forwards connections again, on the same port. */
  open(): Promise<void>;
  /** Refuses new connections and cuts every open one, as a database outage would. */
  close(): Promise<void>;
  /** Accepts connections but forwards nothing, as a network that swallows packets would. */
  blackhole(): void;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let swallowing = false;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (swallowing) return;
    const upstream = net.connect(targetPort, targetHost);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(0);
  return {
    port,
    async open() {
      swallowing = false;
      if (!server.listening) await listen(port);
    },
    async close() {
      const closed = server.listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    blackhole() {
      swallowing = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}
