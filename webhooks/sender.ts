import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedTarget } from './ssrf.js';

/** What one HTTP attempt came to. `statusCode` absent: no response (connect error, timeout …). */
export interface SendResult {
  readonly statusCode?: number;
  readonly error?: string;
  /** `Retry-After`, `Location` as the receiver sent them. */
  readonly retryAfter?: string;
  readonly location?: string;
  readonly bodyBytes: number;
  readonly truncated: boolean;
}

/**
 * One POST to a checked target. The connection goes to `target.address` (the lookup is pinned to it, so the
 * Host header and TLS SNI still name the URL's host); redirects are not followed; at most `maxResponseBytes`
 * of the body are read, then the connection is closed; `deadlineMs` (epoch) bounds the whole exchange.
 */
export function sendWebhook(
  target: ResolvedTarget,
  headers: Record<string, string>,
  body: string,
  options: { deadlineMs: number; maxResponseBytes: number },
): Promise<SendResult> {
  return new Promise((resolve) => {
    const pinned: LookupFunction = (_hostname, opts, callback) => {
      if ((opts as { all?: boolean }).all === true)
        (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [
          { address: target.address, family: target.family },
        ]);
      else callback(null, target.address, target.family);
    };
    const client = target.url.protocol === 'https:' ? https : http;
    const payload = Buffer.from(body, 'utf8');
    let settled = false;
    let statusCode: number | undefined;
    let retryAfter: string | undefined;
    let location: string | undefined;
    let bodyBytes = 0;
    let truncated = false;
    const finish = (error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        ...(statusCode === undefined ? {} : { statusCode }),
        ...(error === undefined ? {} : { error }),
        ...(retryAfter === undefined ? {} : { retryAfter }),
        ...(location === undefined ? {} : { location }),
        bodyBytes,
        truncated,
      });
    };
    const req = client.request(target.url, {
      method: 'POST',
      agent: false,
      lookup: pinned,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) },
    });
    const timer = setTimeout(
      () => {
        // With a status already in hand, a body that never ends does not undo the answer.
        if (statusCode === undefined) finish(`timeout: no response within the attempt's deadline`);
        else finish();
        req.destroy();
      },
      Math.max(0, options.deadlineMs - Date.now()),
    );
    req.on('error', (err: NodeJS.ErrnoException) => finish(`${err.code ?? 'ERROR'}: ${err.message}`));
    req.on('response', (res) => {
      statusCode = res.statusCode ?? 0;
      const ra = res.headers['retry-after'];
      if (typeof ra === 'string') retryAfter = ra;
      if (typeof res.headers.location === 'string') location = res.headers.location;
      res.on('data', (chunk: Buffer) => {
        bodyBytes += chunk.length;
        if (bodyBytes > options.maxResponseBytes) {
          truncated = true;
          bodyBytes = options.maxResponseBytes;
          finish();
          res.destroy();
          req.destroy();
        }
      });
      res.on('end', () => finish());
      res.on('error', () => finish());
      res.on('close', () => finish());
    });
    req.end(payload);
  });
}

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date; ms from now, undefined when unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
