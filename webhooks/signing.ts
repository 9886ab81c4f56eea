import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/, "Signature scheme"): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 with the base64-decoded part of the `whsec_` secret,
 * sent as `v1,<base64>`; several signatures are space-separated (secret rotation).
 */
export const SECRET_PREFIX = 'whsec_';

/** A new secret: `whsec_` + base64 of 32 random bytes (the spec asks for 24 to 64). */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

export function signPayload(secret: string, id: string, timestampS: number, body: string): string {
  const key = Buffer.from(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
    'base64',
  );
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

/** The `webhook-signature` header: one `v1,…` per secret that is valid now. */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestampS: number,
  body: string,
): string {
  return secrets.map((s) => signPayload(s, id, timestampS, body)).join(' ');
}

/** The body every delivery carries; defined beside the repository that stores it (core must not import webhooks/). */
export { webhookBody } from '../core/state/webhooks/webhook-body.js';
