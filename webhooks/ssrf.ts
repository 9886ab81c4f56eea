import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { RiskfuseError } from '../core/errors.js';

/**
 * Where webhooks may go. A receiver's URL is checked when the subscription is made and again before every
 * attempt against the addresses its host resolves to then; the request connects to the address that was
 * checked (never a second lookup), so a DNS answer that changes in between (rebinding) cannot redirect it.
 */
export type AddressClass =
  'public' | 'private' | 'loopback' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved';

export interface TargetPolicy {
  readonly allowPrivate: boolean;
  readonly allowLoopback: boolean;
}

const list = (entries: readonly [string, number, 'ipv4' | 'ipv6'][]): BlockList => {
  const b = new BlockList();
  for (const [net, prefix, type] of entries) b.addSubnet(net, prefix, type);
  return b;
};

// Checked in this order: the first list that holds the address names its class.
const CLASSES: readonly [AddressClass, BlockList][] = [
  [
    'metadata',
    (() => {
      const b = new BlockList();
      b.addAddress('169.254.169.254', 'ipv4'); // AWS, GCP, Azure, OpenStack …
      b.addAddress('169.254.170.2', 'ipv4'); // AWS ECS task metadata
      b.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud
      b.addAddress('fd00:ec2::254', 'ipv6'); // AWS IMDS over IPv6
      return b;
    })(),
  ],
  [
    'unspecified',
    list([
      ['0.0.0.0', 8, 'ipv4'],
      ['::', 128, 'ipv6'],
    ]),
  ],
  [
    'loopback',
    list([
      ['127.0.0.0', 8, 'ipv4'],
      ['::1', 128, 'ipv6'],
    ]),
  ],
  [
    'link-local',
    list([
      ['169.254.0.0', 16, 'ipv4'],
      ['fe80::', 10, 'ipv6'],
    ]),
  ],
  [
    'multicast',
    list([
      ['224.0.0.0', 4, 'ipv4'],
      ['ff00::', 8, 'ipv6'],
    ]),
  ],
  [
    'private',
    list([
      ['10.0.0.0', 8, 'ipv4'],
      ['172.16.0.0', 12, 'ipv4'],
      ['192.168.0.0', 16, 'ipv4'],
      ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
      ['fc00::', 7, 'ipv6'],
    ]),
  ],
  [
    'reserved',
    list([
      ['240.0.0.0', 4, 'ipv4'], // includes 255.255.255.255
      ['192.0.0.0', 24, 'ipv4'],
      ['198.18.0.0', 15, 'ipv4'],
      ['64:ff9b::', 96, 'ipv6'], // NAT64: would reach IPv4 space unchecked
      ['2001:db8::', 32, 'ipv6'],
    ]),
  ],
];

/** Host names that are cloud metadata services whatever they resolve to. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data']);

/** `::ffff:a.b.c.d` (and its hex form) is the IPv4 address a.b.c.d. */
function unmapIpv4(address: string): string | undefined {
  const m = /^::ffff:(?:0:)?(.+)$/i.exec(address);
  if (m?.[1] === undefined) return undefined;
  if (isIP(m[1]) === 4) return m[1];
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(m[1]);
  if (hex?.[1] === undefined || hex[2] === undefined) return undefined;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export function classifyAddress(address: string): AddressClass {
  const v4 = unmapIpv4(address);
  const ip = v4 ?? address;
  const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  for (const [cls, blocks] of CLASSES) if (blocks.check(ip, type)) return cls;
  return 'public';
}

export function isAllowed(cls: AddressClass, policy: TargetPolicy): boolean {
  if (cls === 'public') return true;
  if (cls === 'private') return policy.allowPrivate;
  if (cls === 'loopback') return policy.allowLoopback;
  return false;
}

const blocked = (what: string, address: string, cls: AddressClass): RiskfuseError =>
  new RiskfuseError(
    'VALIDATION_FAILED',
    `${what} resolves to ${address}, a ${cls} address${cls === 'private' ? ' (allowed only with WEBHOOK_ALLOW_PRIVATE=true)' : cls === 'loopback' ? ' (allowed only with WEBHOOK_ALLOW_LOOPBACK=true)' : ''}: webhooks may not be sent there`,
    {
      details: { errors: [{ path: 'body/url', message: `${cls} address ${address} is not allowed` }] },
      retryable: false,
    },
  );

const invalid = (message: string): RiskfuseError =>
  new RiskfuseError('VALIDATION_FAILED', message, {
    details: { errors: [{ path: 'body/url', message }] },
  });

/** Syntax only: an absolute http(s) URL without credentials or fragment. */
export function parseTargetUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`${JSON.stringify(text.slice(0, 200))} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(`the URL scheme must be http or https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.username !== '' || url.password !== '')
    throw invalid(
      'the URL must not carry credentials (user:password@); authenticate receivers by the signature',
    );
  if (url.hash !== '') throw invalid('the URL must not have a fragment (#…)');
  if (url.hostname === '') throw invalid('the URL has no host');
  return url;
}

export interface ResolvedTarget {
  readonly url: URL;
  /** The address the request connects to (checked). */
  readonly address: string;
  readonly family: 4 | 6;
}

export type Lookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Resolves the URL's host and checks every address it has (one bad address is enough to refuse: the
 * connection could pick it). Throws VALIDATION_FAILED (not retryable) when blocked, and a retryable error
 * when the name does not resolve now.
 */
export async function resolveTarget(
  urlText: string,
  policy: TargetPolicy,
  lookup: Lookup = systemLookup,
): Promise<ResolvedTarget> {
  const url = parseTargetUrl(urlText);
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (METADATA_HOSTS.has(host)) throw blocked(host, host, 'metadata');
  let addresses: readonly { address: string; family: number }[];
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERROR';
      throw new RiskfuseError('VALIDATION_FAILED', `host ${host} does not resolve (${code})`, {
        details: { errors: [{ path: 'body/url', message: `host does not resolve (${code})` }] },
        retryable: true,
        cause: err,
      });
    }
  }
  if (addresses.length === 0) throw invalid(`host ${host} has no address`);
  for (const a of addresses) {
    const cls = classifyAddress(a.address);
    if (!isAllowed(cls, policy)) throw blocked(host, a.address, cls);
  }
  const first = addresses[0] as { address: string; family: number };
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
