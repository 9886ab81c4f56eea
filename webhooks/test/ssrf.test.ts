import { describe, expect, it } from 'vitest';
import { parseRetrySchedule } from '../config.js';
import { parseRetryAfter } from '../sender.js';
import { classifyAddress, parseTargetUrl, resolveTarget, type Lookup } from '../ssrf.js';

const strict = { allowPrivate: false, allowLoopback: false };
/** DNS answers for the tests' names; a third-party service (DNS), not our module, is what is faked. */
const dns =
  (answers: Record<string, string[]>): Lookup =>
  (host) => {
    const a = answers[host];
    if (a === undefined) return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    return Promise.resolve(a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };

describe('webhook target policy (SSRF guard)', () => {
  it('when addresses are classified, then link-local, metadata, unspecified, multicast, private and loopback are told apart', () => {
    expect(classifyAddress('169.254.169.254')).toBe('metadata');
    expect(classifyAddress('fd00:ec2::254')).toBe('metadata');
    expect(classifyAddress('::ffff:169.254.169.254')).toBe('metadata');
    expect(classifyAddress('::ffff:a9fe:a9fe')).toBe('metadata');
    expect(classifyAddress('169.254.1.1')).toBe('link-local');
    expect(classifyAddress('fe80::1')).toBe('link-local');
    expect(classifyAddress('0.0.0.0')).toBe('unspecified');
    expect(classifyAddress('::')).toBe('unspecified');
    expect(classifyAddress('224.0.0.1')).toBe('multicast');
    expect(classifyAddress('ff02::1')).toBe('multicast');
    expect(classifyAddress('10.1.2.3')).toBe('private');
    expect(classifyAddress('172.31.255.1')).toBe('private');
    expect(classifyAddress('192.168.0.10')).toBe('private');
    expect(classifyAddress('fd12::1')).toBe('private');
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('::ffff:127.0.0.1')).toBe('loopback');
    expect(classifyAddress('255.255.255.255')).toBe('reserved');
    expect(classifyAddress('93.184.216.34')).toBe('public');
    expect(classifyAddress('2606:4700::1111')).toBe('public');
  });

  it('when a URL is malformed, has credentials, a fragment or another scheme, then it is refused with the reason', () => {
    expect(() => parseTargetUrl('not a url')).toThrow(/not an absolute URL/);
    expect(() => parseTargetUrl('ftp://example.com/x')).toThrow(/http or https/);
    expect(() => parseTargetUrl('javascript:alert(1)')).toThrow(/http or https/);
    expect(() => parseTargetUrl('https://user:pw@example.com/x')).toThrow(/credentials/);
    expect(() => parseTargetUrl('https://token@example.com/x')).toThrow(/credentials/);
    expect(() => parseTargetUrl('https://example.com/x#frag')).toThrow(/fragment/);
    expect(parseTargetUrl('https://example.com:8443/hook?x=1').host).toBe('example.com:8443');
  });

  it('when a host resolves to a blocked address (any of its addresses), then it is refused; private and loopback only when allowed', async () => {
    const lookup = dns({
      'hooks.example.com': ['93.184.216.34'],
      'mixed.example.com': ['93.184.216.34', '169.254.169.254'],
      'internal.example.com': ['10.0.0.5'],
      localhost: ['127.0.0.1', '::1'],
    });
    await expect(resolveTarget('https://hooks.example.com/x', strict, lookup)).resolves.toMatchObject({
      address: '93.184.216.34',
      family: 4,
    });
    await expect(resolveTarget('https://mixed.example.com/x', strict, lookup)).rejects.toThrow(/metadata/);
    await expect(resolveTarget('http://169.254.169.254/latest', strict, lookup)).rejects.toThrow(/metadata/);
    await expect(
      resolveTarget('http://[fe80::1]/x', { allowPrivate: true, allowLoopback: true }, lookup),
    ).rejects.toThrow(/link-local/);
    await expect(resolveTarget('http://metadata.google.internal/x', strict, lookup)).rejects.toThrow(
      /metadata/,
    );
    await expect(resolveTarget('http://internal.example.com/x', strict, lookup)).rejects.toThrow(
      /WEBHOOK_ALLOW_PRIVATE/,
    );
    await expect(
      resolveTarget('http://internal.example.com/x', { allowPrivate: true, allowLoopback: false }, lookup),
    ).resolves.toMatchObject({ address: '10.0.0.5' });
    await expect(resolveTarget('http://localhost:9/x', strict, lookup)).rejects.toThrow(
      /WEBHOOK_ALLOW_LOOPBACK/,
    );
    await expect(
      resolveTarget('http://localhost:9/x', { allowPrivate: false, allowLoopback: true }, lookup),
    ).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(
      resolveTarget('http://0.0.0.0:80/', { allowPrivate: true, allowLoopback: true }, lookup),
    ).rejects.toThrow(/unspecified/);
    await expect(resolveTarget('http://nowhere.invalid/', strict, lookup)).rejects.toThrow(
      /does not resolve \(ENOTFOUND\)/,
    );
  });

  it('when Retry-After and the retry schedule are read, then seconds, HTTP dates and durations parse, junk does not', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetrySchedule('5s,30s,2m,10m,30m,1h,3h,6h,12h,24h')).toEqual([
      5000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
    ]);
    expect(parseRetrySchedule('250ms, 1.5s, 100')).toEqual([250, 1500, 100]);
    expect(() => parseRetrySchedule('5 minutes')).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
  });
});
