/**
 * Ingest partitions: how several ingest workers split the device stream without a shared subscription.
 *
 * The stream is cut into a fixed number of partitions by device id. Partition k of n is one persistent MQTT
 * session, client id `{base}.p{k}-of-{n}`, subscribed like a single ingest (`rf/v1/+/telemetry`,
 * `rf/v1/+/status`); the broker gives such a session only the messages of devices whose id hashes to k
 * (broker/partitioned-sessions.ts). Whichever worker owns partition k connects that session; when it dies,
 * another worker connects the same client id and the broker replays what was queued and unacknowledged
 * [MQTT-3.1.2-4]. So a device's readings stay in order on one worker, and a partition's backlog lives in the
 * broker's session store, never in a worker.
 */

/** `{base}.p{k}-of-{n}`: the client id of partition k (0-based) of n. */
export function partitionClientId(base: string, partition: number, partitions: number): string {
  return `${base}.p${partition}-of-${partitions}`;
}

const PARTITION_ID = /\.p(\d{1,4})-of-(\d{1,4})$/;

/** The partition a client id names, or undefined for an ordinary client. */
export function parsePartitionClientId(
  clientId: string,
): { readonly partition: number; readonly partitions: number } | undefined {
  const m = PARTITION_ID.exec(clientId);
  if (m === null) return undefined;
  const partition = Number(m[1]);
  const partitions = Number(m[2]);
  if (partitions < 1 || partition >= partitions) return undefined;
  return { partition, partitions };
}

/**
 * The partition of a device: FNV-1a (32 bit) of its id, mod n. Stable across processes, versions and
 * machines, which is all it needs to be; device ids are random enough that the split is even.
 */
export function devicePartition(deviceId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i += 1) {
    h ^= deviceId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
