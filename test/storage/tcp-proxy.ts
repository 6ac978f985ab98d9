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
  /**
   * Keeps every open connection but forwards nothing more on it, without closing it, as a network
   * that silently drops an established connection would; new connections are forwarded. `open()`
   * cuts the frozen ones.
   */
  freeze(): void;
  /**
   * Holds back, from now on, what a client sends once it sends bytes containing `text` (a
   * statement, say), on that connection only, until {@link TcpProxy.release}: the statement
   * reaches the database late, as on a slow network.
   */
  holdSent(text: string): void;
  /** Forwards everything held back, in order, and holds nothing more. */
  release(): void;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<readonly [net.Socket, net.Socket]>();
  const frozen = new Set<net.Socket>();
  /** Bytes held back per upstream connection, in the order they were sent. */
  const held = new Map<net.Socket, Buffer[]>();
  let holdText: string | undefined;
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
    client.on('data', (chunk: Buffer) => {
      if (frozen.has(client)) return;
      const waiting = held.get(upstream);
      if (waiting) waiting.push(chunk);
      else if (holdText !== undefined && chunk.includes(holdText)) held.set(upstream, [chunk]);
      else upstream.write(chunk);
    });
    upstream.pipe(client);
    const pair = [client, upstream] as const;
    pairs.add(pair);
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
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
      for (const socket of frozen) socket.destroy();
      frozen.clear();
      if (!server.listening) await listen(port);
    },
    async close() {
      const closed = server.listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    freeze() {
      for (const [client, upstream] of pairs) {
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        frozen.add(client).add(upstream);
      }
      pairs.clear();
    },
    holdSent(text) {
      holdText = text;
    },
    release() {
      holdText = undefined;
      for (const [upstream, chunks] of held) for (const chunk of chunks) upstream.write(chunk);
      held.clear();
    },
    blackhole() {
      swallowing = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}
