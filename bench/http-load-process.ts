/**
 * The HTTP load client of bench/api.ts as its own process (started by `httpLoadClient` in bench/support.ts):
 * the server's process then spends its CPU on serving alone, so its CPU per request is the server's, and the
 * client's event loop never waits behind the server's. It keeps one keep-alive agent per origin for its whole
 * life, so successive rounds against a server reuse the same connections. Each IPC message `{ id, spec }` runs
 * one closed-loop round (bench/http-load.ts) and is answered `{ id, report }` or `{ id, failed }`.
 */
import type { Agent } from 'node:http';
import { loadAgent, runLoad, type HttpLoadSpec } from './http-load.js';

const agents = new Map<string, Agent>();

process.on('message', (m: { id: number; spec: HttpLoadSpec }) => {
  const origin = new URL(m.spec.url).origin;
  let agent = agents.get(origin);
  if (agent === undefined) {
    agent = loadAgent(m.spec.connections);
    agents.set(origin, agent);
  }
  runLoad(m.spec, agent).then(
    (report) => process.send?.({ id: m.id, report }),
    (err: unknown) => process.send?.({ id: m.id, failed: err instanceof Error ? err.message : String(err) }),
  );
});

// The parent closing the IPC channel (its exit, or `close()`) ends the client.
process.on('disconnect', () => {
  for (const agent of agents.values()) agent.destroy();
  process.exit(0);
});
