import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';

/**
 * One adapter per transport. Each hands every new connection to `accept` as a byte stream for Aedes,
 * plus the TCP socket underneath (for TCP_NODELAY). Nothing MQTT-specific happens here.
 */
export type Transport = 'tcp' | 'tls' | 'ws';
export type Accept = (stream: Duplex, transport: Transport, socket: Socket) => void;

export function tcpServer(accept: Accept): Server {
  return createNetServer((socket) => accept(socket, 'tcp', socket));
}

export function tlsServer(
  options: { cert: Buffer; key: Buffer; handshakeTimeoutMs: number },
  accept: Accept,
): Server {
  return createTlsServer(
    { cert: options.cert, key: options.key, handshakeTimeout: options.handshakeTimeoutMs },
    (socket: TLSSocket) => accept(socket, 'tls', socket),
  );
}

export interface WsListener {
  readonly http: HttpServer;
  readonly wss: WebSocketServer;
}

/**
 * MQTT over WebSocket on any path (MQTT.js uses `/mqtt`), binary frames, subprotocol `mqtt` when the
 * client offers it (§6.0). `maxFrameBytes` bounds what `ws` buffers for one frame, so a huge frame is
 * refused before it is assembled; the MQTT packet limit applies on top.
 */
export function wsServer(
  options: { maxFrameBytes: number },
  accept: Accept,
  onFrameTooLarge: (err: Error) => void,
): WsListener {
  const http = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
  });
  const wss = new WebSocketServer({
    server: http,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
    handleProtocols: (offered) =>
      offered.has('mqtt') ? 'mqtt' : offered.has('mqttv3.1') ? 'mqttv3.1' : false,
  });
  wss.on('connection', (ws, req) => {
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') onFrameTooLarge(err);
    });
    accept(createWebSocketStream(ws), 'ws', req.socket);
  });
  return { http, wss };
}

/** Listens and reports the port actually bound (`port` 0 picks a free one). */
export function listenOn(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Stops accepting; resolves when the connections still open have ended too. */
export function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
