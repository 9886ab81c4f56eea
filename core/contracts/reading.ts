import type { DeviceKind } from './payloads.js';

/** A scalar stored per reading: numbers as float64, booleans as 0/1, short strings (scene id, mode). */
export type FieldValue = number | string;

/**
 * A reading as the platform stores it: the device payload (less `ts`/`seq`) plus the identity the registry
 * gives the device. Stores treat (deviceId, ts, seq) as the reading's identity, so writing the same reading
 * twice stores it once — this is how redelivered MQTT messages are de-duplicated without any ingest-local
 * state.
 */
export interface Reading {
  readonly kind: DeviceKind;
  readonly deviceId: string;
  readonly borrowerId: string;
  readonly siteId: string;
  /** Device time, epoch ms. */
  readonly ts: number;
  readonly seq: number;
  readonly fields: Readonly<Record<string, FieldValue>>;
}

/** Turns a validated payload into stored fields: drops ts/seq, booleans to 0/1. */
export function payloadFields(payload: Record<string, unknown>): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(payload)) {
    if (k === 'ts' || k === 'seq') continue;
    if (typeof v === 'boolean') fields[k] = v ? 1 : 0;
    else if (typeof v === 'number' || typeof v === 'string') fields[k] = v;
  }
  return fields;
}
