import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';

/** A plain Aedes broker on a TCP port (0 = any free one) that authenticates nothing. */
export interface TestBroker {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startBroker(port = 0): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `mqtt://127.0.0.1:${actual}`,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
  readonly atMs: number;
}

/** A real MQTT.js subscriber collecting everything it receives. */
export async function subscribe(
  url: string,
  topics: string[],
  clientId = `test-sub-${Math.random().toString(16).slice(2)}`,
): Promise<{
  client: MqttClient;
  messages: Received[];
  close(): Promise<void>;
}> {
  const client = connect(url, { clientId, clean: true, reconnectPeriod: 0 });
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({
      topic,
      payload: payload.toString(),
      qos: packet.qos,
      retain: packet.retain,
      atMs: Date.now(),
    });
  });
  client.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, messages, close: () => client.endAsync(true) };
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The readings in a telemetry message: one, or a batch. */
export function readingsOf(payload: string): { seq: number; ts: number }[] {
  const body = JSON.parse(payload) as { batch?: { seq: number; ts: number }[]; seq?: number; ts?: number };
  return body.batch ?? [body as { seq: number; ts: number }];
}
