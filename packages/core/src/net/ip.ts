import { BlockList, isIP } from 'node:net';

/** Address helpers for the SSRF guard: CIDR parsing and IPv4-mapped IPv6 unwrapping. */

export type IpFamily = 'ipv4' | 'ipv6';

export function familyOf(address: string): IpFamily | undefined {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** `::ffff:1.2.3.4` and `::ffff:102:304` become `1.2.3.4`; anything else is returned as is. */
export function unmapIpv4(address: string): string {
  const lower = address.toLowerCase();
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted?.[1] !== undefined) return dotted[1];
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex?.[1] !== undefined && hex[2] !== undefined) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return address;
}

/** Strips the brackets of an IPv6 URL host. */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

export function parseCidr(
  text: string,
): { address: string; prefix: number; family: IpFamily } | undefined {
  const [addr, bits, extra] = text.split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const family = familyOf(addr);
  if (family === undefined) return undefined;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address: addr, prefix, family };
}

export function createBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (cidr === undefined) throw new Error(`not an IP address or CIDR range: ${text}`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

export function inList(list: BlockList, address: string): boolean {
  const plain = unmapIpv4(address);
  const family = familyOf(plain);
  return family !== undefined && list.check(plain, family);
}
