// The source address failures are counted against.

import { isIPv4, isIPv6 } from 'node:net';

/**
 * Reduces a socket address to the unit limits count against: an IPv4 address as is (also when
 * written IPv4-mapped, `::ffff:192.0.2.1`, `::ffff:c000:201` or any other way IPv6 allows), an IPv6 address by its /64 prefix, since one host
 * usually holds a whole /64 and could otherwise rotate through it. Anything else is kept as given.
 */
export function normalizeClientAddress(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  if (isIPv4(address)) return address;
  const withoutZone = address.replace(/%.*$/, '');
  if (!isIPv6(withoutZone)) return address;
  // An IPv4 tail (::ffff:192.0.2.1, 0:0:0:0:0:ffff:192.0.2.1, 2001:db8::192.0.2.1) is the last
  // two groups written in decimal: read as such, every way of writing one address gives one bucket.
  const hexOnly = withoutZone.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_all, a: string, b: string, c: string, d: string) =>
      [(Number(a) << 8) | Number(b), (Number(c) << 8) | Number(d)].map((group) => group.toString(16)).join(':'),
  );
  const [head = '', tail] = hexOnly.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const values = groups.map((group) => parseInt(group, 16));
  // IPv4-mapped written in hex (::ffff:c000:201) is the IPv4 address, not the ::/64 of ::1.
  if (values.slice(0, 5).every((value) => value === 0) && values[5] === 0xffff) {
    const [high = 0, low = 0] = values.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}
