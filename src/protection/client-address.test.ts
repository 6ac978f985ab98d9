import { describe, expect, it } from 'vitest';
import { normalizeClientAddress } from './client-address.js';

describe('normalizeClientAddress', () => {
  it.each([
    ['IPv4 stays as is', '192.0.2.7', '192.0.2.7'],
    ['IPv4-mapped IPv6 becomes IPv4', '::ffff:127.0.0.2', '127.0.0.2'],
    ['IPv4-mapped IPv6 in hex becomes IPv4', '::ffff:c000:201', '192.0.2.1'],
    ['IPv4-mapped IPv6 in full hex becomes IPv4', '0:0:0:0:0:FFFF:7f00:2', '127.0.0.2'],
    ['IPv4-mapped IPv6 written in full with a dotted tail becomes IPv4', '0:0:0:0:0:ffff:127.0.0.2', '127.0.0.2'],
    ['IPv4-mapped IPv6 with a zone id becomes IPv4', '::ffff:127.0.0.2%lo', '127.0.0.2'],
    ['IPv6 with a dotted tail counts by its /64', '2001:db8::192.0.2.1', '2001:db8:0:0::/64'],
    ['IPv6 counts by its /64', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['compressed IPv6 counts by its /64', '2001:db8::1', '2001:db8:0:0::/64'],
    ['two hosts of one /64 share a bucket', '2001:db8:1:2::99', '2001:db8:1:2::/64'],
    ['loopback IPv6', '::1', '0:0:0:0::/64'],
    ['a zone id is ignored', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['a missing address is one shared bucket', undefined, 'unknown'],
    ['an empty address is one shared bucket', '', 'unknown'],
  ])('%s', (_title, input, expected) => {
    expect(normalizeClientAddress(input)).toBe(expected);
  });
});
