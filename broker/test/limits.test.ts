import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { MqttFrameMeter } from '../limits.js';

const publish = (payloadBytes: number): Buffer =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'rf/v1/stake-000001/telemetry',
    payload: Buffer.alloc(payloadBytes, 0x61),
    qos: 1,
    messageId: 7,
    retain: false,
    dup: false,
  });

const ping = (): Buffer => mqttPacket.generate({ cmd: 'pingreq' });

/** Splits `bytes` into chunks of `size` bytes, as a socket may deliver them. */
function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('MqttFrameMeter', () => {
  it('when packets within the limit arrive in chunks of any size, then no problem is reported', () => {
    const stream = Buffer.concat([publish(1000), ping(), publish(0), publish(200_000), ping()]);
    for (const size of [1, 2, 3, 7, 128, 4096, stream.length]) {
      const meter = new MqttFrameMeter(200_100);
      expect(
        chunks(stream, size)
          .map((c) => meter.feed(c))
          .filter(Boolean),
      ).toEqual([]);
    }
  });

  it('when a header announces more than the limit, then it is reported before the body has arrived', () => {
    const packet = publish(300_000);
    const meter = new MqttFrameMeter(200_000);
    const problem = meter.feed(packet.subarray(0, 5)); // fixed header + Remaining Length only
    expect(problem).toEqual({ kind: 'oversized', remainingLengthBytes: packet.length - 4 });
  });

  it('when an oversized packet follows valid ones in the same chunk, then it is still caught', () => {
    const meter = new MqttFrameMeter(10_000);
    expect(meter.feed(Buffer.concat([ping(), publish(100), publish(20_000).subarray(0, 10)]))).toMatchObject({
      kind: 'oversized',
    });
  });

  it('when the Remaining Length runs past four bytes, then the packet is malformed', () => {
    const meter = new MqttFrameMeter(Number.MAX_SAFE_INTEGER);
    expect(meter.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual({ kind: 'malformed' });
  });

  it('when the limit is exactly the Remaining Length, then the packet passes', () => {
    const packet = publish(5000);
    const remaining = packet.length - 3; // 1 header byte + 2 length bytes
    expect(new MqttFrameMeter(remaining).feed(packet)).toBeUndefined();
    expect(new MqttFrameMeter(remaining - 1).feed(packet)).toMatchObject({ kind: 'oversized' });
  });
});
