import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DeviceCredentials } from './state/index.js';

/**
 * Device and service tokens are 256 random bits, so a salted SHA-256 is enough to make a stolen registry
 * useless; a slow KDF (scrypt, bcrypt) protects low-entropy human passwords and would only make every
 * MQTT CONNECT cost ~50 ms of CPU on the broker.
 */
export function issueToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string, salt: string): string {
  // One-shot `hash` (no Hash object): the same digest as update(salt), update('\0'), update(token), in about
  // half the time — it is paid on every API request and every MQTT CONNECT.
  return hash('sha256', `${salt}\0${token}`, 'hex');
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

/** API keys read `rfk_<id>_<secret>`: the id finds the stored hash, the secret is 256 random bits. */
export const API_KEY_PREFIX = 'rfk_';
const API_KEY_RE = /^rfk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface IssuedApiKey {
  readonly id: string;
  /** The whole key, shown once. */
  readonly key: string;
  readonly salt: string;
  readonly keyHash: string;
}

export function issueApiKey(): IssuedApiKey {
  const id = randomBytes(8).toString('hex');
  const secret = issueToken();
  const salt = randomBytes(16).toString('hex');
  return { id, key: `${API_KEY_PREFIX}${id}_${secret}`, salt, keyHash: hashToken(secret, salt) };
}

/** Splits a presented key into id and secret; undefined when it is not shaped like one. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = API_KEY_RE.exec(key);
  return m?.[1] === undefined || m[2] === undefined ? undefined : { id: m[1], secret: m[2] };
}

/** Constant-time check of a presented secret against the stored salted hash. */
export function verifyApiKeySecret(secret: string, stored: { salt: string; keyHash: string }): boolean {
  return verifyToken(secret, { salt: stored.salt, tokenHash: stored.keyHash });
}

/** The stored form of a key given from outside (API_ADMIN_KEY); undefined when it is not a valid key. */
export function credentialsOfApiKey(key: string): IssuedApiKey | undefined {
  const parsed = parseApiKey(key);
  if (parsed === undefined) return undefined;
  const salt = randomBytes(16).toString('hex');
  return { id: parsed.id, key, salt, keyHash: hashToken(parsed.secret, salt) };
}
