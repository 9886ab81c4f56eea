import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DeviceCredentials } from './storage/state-store.js';

/**
 * Device and service tokens are 256 random bits, so a salted SHA-256 is enough to make a stolen registry
 * useless; a slow KDF (scrypt, bcrypt) protects low-entropy human passwords and would only make every
 * MQTT CONNECT cost ~50 ms of CPU on the broker.
 */
export function issueToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string, salt: string): string {
  return createHash('sha256').update(salt).update('\0').update(token).digest('hex');
}

export function makeCredentials(deviceId: string, token: string): DeviceCredentials {
  const salt = randomBytes(16).toString('hex');
  return { deviceId, salt, tokenHash: hashToken(token, salt) };
}

export function verifyToken(token: string, creds: Pick<DeviceCredentials, 'salt' | 'tokenHash'>): boolean {
  const actual = Buffer.from(hashToken(token, creds.salt), 'hex');
  const expected = Buffer.from(creds.tokenHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Constant-time comparison of two secrets of any length. */
export function secretEquals(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
