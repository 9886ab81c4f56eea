import type { Aedes, Client } from 'aedes';

/**
 * Keeps a connection that ends before it was registered from unregistering the one registered under its
 * client id.
 *
 * Aedes registers a connection under its client id only at the end of CONNECT (lib/handlers/connect.js
 * `registerClient`, after the session store has answered `fetchSubs`, `restoreSubs` and `storeWill`), and
 * closing the previous connection of that id [MQTT-3.1.4-2] happens then too. But a connection that closes
 * earlier, once authenticated, unregisters whatever is registered under its id (lib/client.js `close`: `if
 * (broker.clients[id] && _authorized) broker.unregisterClient(this)`, which deletes by id). The connection
 * still open then drops out of `aedes.clients` while it keeps its subscriptions and socket: it is announced
 * disconnected, a later connection of the same id does not close it, and app.ts's reconnect of persistent
 * sessions when the Redis emitter comes back (`onEmitterResumed`) passes it by — so what was queued for it
 * while pub/sub was down is never replayed.
 *
 * That is what a Redis restart did in test/cluster.e2e.test.ts: an ingest worker, having seen the other
 * worker's lease expire while Redis was away, connected two of its partition sessions to a broker whose
 * session store was still reconnecting (CONNECT waiting in `fetchSubs`) and closed them half a second later,
 * when it saw the other worker's lease again. The other worker's live connections of those partitions
 * dropped out of that broker's registry, were not reconnected when the broker's emitter came back 4.3 s
 * later, and 112 acknowledged readings queued for them stayed in Redis.
 *
 * So only the registered connection itself is unregistered. broker/test/registered-clients.test.ts pins it.
 */
export function installRegisteredClients(aedes: Aedes): void {
  const target = aedes as unknown as {
    unregisterClient: (client: Client) => void;
    clients: Readonly<Record<string, Client>>;
  };
  const unregister = target.unregisterClient.bind(aedes);
  target.unregisterClient = (client) => {
    if (target.clients[client.id] === client) unregister(client);
  };
}
