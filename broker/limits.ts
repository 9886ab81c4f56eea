import type { Readable } from 'node:stream';

/**
 * Packet size limit. Neither Aedes 1.2 nor mqtt-packet 9 can cap an MQTT 3.1.1 packet
 * (moscajs/aedes#831): the parser keeps appending to one buffer until the Remaining Length it was
 * promised has arrived, up to 256 MB per connection. So we read the fixed header of every packet as
 * the bytes go by and cut the connection as soon as a header announces more than the limit — before
 * the body is buffered anywhere.
 */

/** Room for the fixed/variable header and the topic of a PUBLISH next to its payload. */
export const PACKET_OVERHEAD_ALLOWANCE_BYTES = 1024;

export function maxRemainingLengthFor(maxPayloadBytes: number): number {
  return maxPayloadBytes + PACKET_OVERHEAD_ALLOWANCE_BYTES;
}

export type FrameProblem =
  | { readonly kind: 'oversized'; readonly remainingLengthBytes: number }
  /** A Remaining Length longer than four bytes (§2.2.3) — mqtt-packet would reject it too. */
  | { readonly kind: 'malformed' };

/** Follows MQTT framing over a byte stream without copying: header byte, Remaining Length, body. */
export class MqttFrameMeter {
  private phase: 'type' | 'length' | 'body' = 'type';
  private remainingLength = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly maxRemainingLength: number) {}

  /** Returns the first problem found in `chunk`; after one, the connection is to be closed. */
  feed(chunk: Uint8Array): FrameProblem | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.phase === 'type') {
        i += 1;
        this.phase = 'length';
        this.remainingLength = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.phase === 'length') {
        const byte = chunk[i] ?? 0;
        i += 1;
        this.remainingLength += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes += 1;
        if (byte & 0x80) {
          if (this.lengthBytes === 4) return { kind: 'malformed' };
          continue;
        }
        if (this.remainingLength > this.maxRemainingLength) {
          return { kind: 'oversized', remainingLengthBytes: this.remainingLength };
        }
        this.bodyLeft = this.remainingLength;
        this.phase = this.bodyLeft === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        i += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) this.phase = 'type';
      }
    }
    return undefined;
  }
}

/**
 * Watches every chunk the broker reads from `stream` and calls `onProblem` once. Attach it after
 * `aedes.handle(stream)`: with a 'readable' listener present, a 'data' listener does not switch the
 * stream to flowing mode, it only sees each chunk as Aedes `read()`s it, before Aedes parses it.
 */
export function guardPacketSize(
  stream: Readable,
  maxRemainingLength: number,
  onProblem: (problem: FrameProblem) => void,
): void {
  const meter = new MqttFrameMeter(maxRemainingLength);
  let tripped = false;
  stream.on('data', (chunk: Buffer) => {
    if (tripped) return;
    const problem = meter.feed(chunk);
    if (problem) {
      tripped = true;
      onProblem(problem);
    }
  });
}
