import { lookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { ValidationError } from '../errors.js';

/**
 * Server-side request forgery guard for tenants' webhook URLs: only http(s), https unless private targets
 * are allowed, no credentials, and every address the host resolves to must be public. The sender then
 * connects to the checked addresses themselves (`pinnedLookup`), so a DNS answer that changes between the
 * check and the connect (rebinding) cannot redirect it.
 */

/** Why a target was refused: `unresolvable` may pass later (DNS), the others stay refused until the URL changes. */
export type TargetRefusal = 'invalid-url' | 'scheme' | 'https-required' | 'credentials' | 'non-public-address' | 'unresolvable';

export class TargetRefusedError extends ValidationError {
  readonly reason: TargetRefusal;
  constructor(reason: TargetRefusal, message: string) {
    super(message, [{ location: 'body', name: 'url', message }]);
    this.reason = reason;
  }
}

export interface CheckedTarget {
  url: URL;
  /** The checked addresses to connect to; absent when private targets are allowed (the system resolver decides). */
  addresses?: LookupAddress[];
}

/** Throws a {@link TargetRefusedError} (a ValidationError) when the service must not send to `url`. */
export async function assertPublicTarget(url: string, allowPrivateTargets: boolean): Promise<void> {
  await checkTarget(url, allowPrivateTargets);
}

export async function checkTarget(rawUrl: string, allowPrivateTargets: boolean): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new TargetRefusedError('invalid-url', 'The webhook URL is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefusedError('scheme', `The webhook URL must use https, not ${url.protocol.slice(0, -1)}`);
  if (allowPrivateTargets) return { url };
  if (url.protocol !== 'https:') throw new TargetRefusedError('https-required', 'The webhook URL must use https');
  if (url.username || url.password) throw new TargetRefusedError('credentials', 'The webhook URL must not contain credentials (user:password@)');

  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(host);
  const addresses = family ? [{ address: host, family }] : await resolveAll(host);
  for (const { address } of addresses) {
    const range = nonPublicRange(address);
    if (range) {
      const resolved = address === host ? '' : ` resolves to ${address}, which`;
      throw new TargetRefusedError('non-public-address', `The webhook host ${host}${resolved} is not a public address (${range}); only public addresses are allowed`);
    }
  }
  return { url, addresses };
}

async function resolveAll(host: string): Promise<LookupAddress[]> {
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TargetRefusedError('unresolvable', `The webhook host ${host} could not be resolved (${code})`);
  }
  if (addresses.length === 0) throw new TargetRefusedError('unresolvable', `The webhook host ${host} has no address`);
  return addresses;
}

/** A `lookup` for http(s).request that answers with the checked addresses instead of asking DNS again. */
export function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const ofFamily = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    const first = ofFamily[0];
    if (!first) {
      callback(Object.assign(new Error(`no checked IPv${String(options.family)} address`), { code: 'ENOTFOUND' }), '', 0);
      return;
    }
    // Node's connect asks for every address (`all`) when it races IPv4 and IPv6 (autoSelectFamily).
    if (options.all) callback(null, ofFamily);
    else callback(null, first.address, first.family);
  };
}

type Range = { bytes: number[]; prefix: number; label: string };

const range = (cidr: string, label: string): Range => {
  const [base = '', prefix = ''] = cidr.split('/');
  return { bytes: ipBytes(base)!, prefix: Number(prefix), label };
};

// IANA special-purpose registries: anything not globally reachable. Specific entries come first for a precise message.
const V4_RANGES: Range[] = [
  range('169.254.169.254/32', 'cloud metadata'),
  range('0.0.0.0/8', 'unspecified ("this network")'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'shared (CGNAT)'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'IETF protocol assignment'),
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', '6to4 relay'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('255.255.255.255/32', 'broadcast'),
  range('240.0.0.0/4', 'reserved'),
];

const V6_RANGES: Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('::/96', 'IPv4-compatible (deprecated)'),
  range('64:ff9b:1::/48', 'local-use NAT64'),
  range('100::/64', 'discard-only'),
  range('2001:db8::/32', 'documentation'),
  range('2001::/23', 'IETF protocol assignment (Teredo, benchmarking, ORCHID)'),
  range('3fff::/20', 'documentation'),
  range('fc00::/7', 'unique-local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local'),
  range('ff00::/8', 'multicast'),
];

const GLOBAL_UNICAST_V6 = range('2000::/3', 'global unicast');

// IPv6 forms that carry an IPv4 address: judged by the IPv4 address they lead to.
const EMBEDDED_V4: { range: Range; offset: number; label: string }[] = [
  { range: range('::ffff:0:0/96', ''), offset: 12, label: 'IPv4-mapped' },
  { range: range('64:ff9b::/96', ''), offset: 12, label: 'NAT64' },
  { range: range('2002::/16', ''), offset: 2, label: '6to4' },
];

/** The kind of non-public range `address` is in (e.g. "loopback"), or null when it is public. */
export function nonPublicRange(address: string): string | null {
  const bytes = ipBytes(address);
  if (!bytes) return 'unparseable';
  if (bytes.length === 4) return V4_RANGES.find((r) => inRange(bytes, r))?.label ?? null;
  for (const embedded of EMBEDDED_V4) {
    if (!inRange(bytes, embedded.range)) continue;
    const v4 = nonPublicRange(bytes.slice(embedded.offset, embedded.offset + 4).join('.'));
    return v4 && `${embedded.label} ${v4}`;
  }
  const special = V6_RANGES.find((r) => inRange(bytes, r));
  if (special) return special.label;
  return inRange(bytes, GLOBAL_UNICAST_V6) ? null : 'reserved';
}

function inRange(bytes: number[], r: Range): boolean {
  if (bytes.length !== r.bytes.length) return false;
  for (let bit = 0; bit < r.prefix; bit += 8) {
    const width = Math.min(8, r.prefix - bit);
    const mask = (0xff << (8 - width)) & 0xff;
    if ((bytes[bit / 8]! & mask) !== (r.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/** 4 bytes for IPv4, 16 for IPv6 (zone ids dropped), null when `address` is not an IP address. */
function ipBytes(address: string): number[] | null {
  const plain = address.split('%')[0] ?? '';
  const family = isIP(plain);
  if (family === 4) return plain.split('.').map(Number);
  if (family !== 6) return null;
  let text = plain;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const headGroups = groups(head);
  const tailGroups = tail === undefined ? [] : groups(tail);
  const all = [...headGroups, ...Array<number>(8 - headGroups.length - tailGroups.length).fill(0), ...tailGroups];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}
