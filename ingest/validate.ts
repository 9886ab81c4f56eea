import { StringDecoder } from 'node:string_decoder';
import { checkReading, MAX_BATCH_READINGS, payloadFields, type Reading } from '../core/contracts/index.js';
import type { Device } from '../core/state/index.js';

/**
 * Turns one MQTT telemetry message into stored readings and rejections. Pure: no I/O, the clock and the
 * registry entry are passed in. Every rejection carries a stable reason code.
 */
export const REJECT_REASONS = [
  'MALFORMED_JSON',
  'SCHEMA_VIOLATION',
  'EMPTY_BATCH',
  'BATCH_TOO_LARGE',
  'UNKNOWN_DEVICE',
  'DEVICE_REVOKED',
  'FUTURE_TIMESTAMP',
  'PAYLOAD_TOO_LARGE',
  'UNKNOWN_TOPIC',
  'INVALID_STATUS',
  'STORE_REJECTED',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  readonly reason: RejectReason;
  readonly detail: string;
  /** The offending part: the raw payload, or one reading of a batch. */
  readonly payload: string;
}

export interface Classified {
  readonly readings: Reading[];
  readonly rejections: Rejection[];
}

export interface ValidationLimits {
  readonly maxPayloadBytes: number;
  readonly maxFutureSkewMs: number;
}

const MAX_STORED_PAYLOAD_BYTES = 4096;

/** The payload as stored in a dead letter: UTF-8 text when it is text, base64 otherwise, truncated. */
export function describePayload(payload: Buffer): string {
  const head = payload.subarray(0, MAX_STORED_PAYLOAD_BYTES);
  // StringDecoder holds back a character the cut splits, so cutting text never makes it look binary.
  const text = new StringDecoder('utf8').write(head);
  // Control characters other than tab/newline/carriage return mean binary: store it as base64.
  // eslint-disable-next-line no-control-regex
  const printable = !text.includes('\uFFFD') && !/[\u0000-\u0008\u000E-\u001F]/.test(text);
  const body = printable ? text : `base64:${head.toString('base64')}`;
  return payload.length > MAX_STORED_PAYLOAD_BYTES ? `${body}…(${payload.length} bytes)` : body;
}

/** Whether JSON.stringify gives back exactly this parsed value (no non-finite numbers inside). */
function jsonSafe(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(jsonSafe);
  if (typeof value === 'object' && value !== null) return Object.values(value).every(jsonSafe);
  return true;
}

/** Where in the message a rejected reading was, for the dead letter's detail. */
function where(batched: boolean, index: number): string {
  return batched ? `batch[${index}]` : 'reading';
}

/**
 * The rejected reading as stored in its dead letter. One reading of a batch is stored on its own, unless
 * re-serialising would change what the device sent (1e999 would come back as null): then the whole
 * message, whose detail names the index.
 */
function itemPayload(batched: boolean, item: unknown, payload: Buffer): string {
  return batched && jsonSafe(item)
    ? describePayload(Buffer.from(JSON.stringify(item)))
    : describePayload(payload);
}

function reject(reason: RejectReason, detail: string, payload: string): Classified {
  return { readings: [], rejections: [{ reason, detail, payload }] };
}

export function classifyTelemetry(
  deviceId: string,
  device: Device | undefined,
  payload: Buffer,
  nowMs: number,
  limits: ValidationLimits,
): Classified {
  if (payload.length > limits.maxPayloadBytes) {
    return reject(
      'PAYLOAD_TOO_LARGE',
      `payload is ${payload.length} bytes; the limit is ${limits.maxPayloadBytes}`,
      describePayload(payload),
    );
  }
  if (!device)
    return reject('UNKNOWN_DEVICE', `device ${deviceId} is not in the registry`, describePayload(payload));
  if (device.status !== 'active') {
    return reject('DEVICE_REVOKED', `device ${deviceId} is ${device.status}`, describePayload(payload));
  }
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return reject('MALFORMED_JSON', `not JSON: ${(err as Error).message}`, describePayload(payload));
  }

  let items: unknown[];
  let batched = false;
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'batch' in body) {
    // A batch message holds `batch` and nothing else; a reading with a stray `batch` key must not have its
    // own fields silently ignored.
    const extra = Object.keys(body).filter((k) => k !== 'batch');
    if (extra.length > 0) {
      return reject(
        'SCHEMA_VIOLATION',
        `a batch message holds only \`batch\`; unexpected ${extra.map((k) => JSON.stringify(k)).join(', ')}`,
        describePayload(payload),
      );
    }
    const batch = body.batch;
    if (!Array.isArray(batch))
      return reject('SCHEMA_VIOLATION', '`batch` must be an array', describePayload(payload));
    if (batch.length === 0)
      return reject('EMPTY_BATCH', '`batch` holds no readings', describePayload(payload));
    if (batch.length > MAX_BATCH_READINGS) {
      return reject(
        'BATCH_TOO_LARGE',
        `batch holds ${batch.length} readings; the limit is ${MAX_BATCH_READINGS}`,
        describePayload(payload),
      );
    }
    items = batch;
    batched = true;
  } else {
    items = [body];
  }

  const readings: Reading[] = [];
  const rejections: Rejection[] = [];
  // A plain loop with no closures per reading: this runs for every reading the platform receives.
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const problems = checkReading(device.kind, item);
    if (problems.length > 0) {
      const detail = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      rejections.push({
        reason: 'SCHEMA_VIOLATION',
        detail: `${where(batched, i)} (${device.kind}) ${detail}`,
        payload: itemPayload(batched, item, payload),
      });
      continue;
    }
    const r = item as Record<string, unknown> & { ts: number; seq: number };
    if (r.ts > nowMs + limits.maxFutureSkewMs) {
      rejections.push({
        reason: 'FUTURE_TIMESTAMP',
        detail: `${where(batched, i)} ts ${new Date(r.ts).toISOString()} is ${Math.round((r.ts - nowMs) / 1000)} s ahead of the ingest clock (limit ${Math.round(limits.maxFutureSkewMs / 1000)} s)`,
        payload: itemPayload(batched, item, payload),
      });
      continue;
    }
    readings.push({
      kind: device.kind,
      deviceId: device.id,
      borrowerId: device.borrowerId,
      siteId: device.siteId,
      ts: r.ts,
      seq: r.seq,
      fields: payloadFields(r),
    });
  }
  return { readings, rejections };
}
