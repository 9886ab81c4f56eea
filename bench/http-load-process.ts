/**
 * The HTTP load client of bench/api.ts as its own process (started by `httpLoadClient` in bench/support.ts):
 * the server's process then spends its CPU on serving alone, so its CPU per request is the server's, and the
 * client's event loop never waits behind the server's. It keeps its keep-alive connections per origin for its
 * whole life, so successive rounds against a server reuse the same connections. Each IPC message `{ id, spec }`
 * runs one closed-loop round (bench/http-load.ts) and is answered `{ id, report }` (with the client's own CPU
 * time) or `{ id, failed }`.
 */
import { ConnectionPool, runLoad, type HttpLoadSpec } from './http-load.js';

const pool = new ConnectionPool();

process.on('message', (m: { id: number; spec: HttpLoadSpec }) => {
  const cpuStart = process.cpuUsage();
  runLoad(m.spec, pool).then(
    (report) => {
      const cpu = process.cpuUsage(cpuStart);
      process.send?.({ id: m.id, report: { ...report, clientCpuUs: cpu.user + cpu.system } });
    },
    (err: unknown) => process.send?.({ id: m.id, failed: err instanceof Error ? err.message : String(err) }),
  );
});

// The parent closing the IPC channel (its exit, or `close()`) ends the client.
process.on('disconnect', () => {
  pool.close();
  process.exit(0);
});
