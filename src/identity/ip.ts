import { isIP } from "node:net";

/**
 * Addresses an outbound fetch must not reach outside dev mode: loopback,
 * private, link-local, shared (CGNAT), multicast, documentation and other
 * special-purpose ranges (RFC 6890 and its updates). IPv6 forms that embed
 * an IPv4 address (mapped, NAT64, 6to4) are judged by that IPv4 address.
 */
const V4_BLOCKED: readonly (readonly [string, number])[] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];

const V6_BLOCKED: readonly (readonly [string, number])[] = [
  // Unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d.
  ["::", 96],
  ["100::", 64],
  ["2001::", 23],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
];

const v4Prefixes = V4_BLOCKED.map(([net, bits]) => [parseIpv4(net)!, bits] as const);
const v6Prefixes = V6_BLOCKED.map(([net, bits]) => [parseIpv6(net)!, bits] as const);

/** True when `address` (an IP literal) may be fetched from the public internet. */
export function isPublicAddress(address: string): boolean {
  const plain = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const family = isIP(plain);
  if (family === 4) return !matches(parseIpv4(plain)!, v4Prefixes);
  if (family !== 6) return false;
  const bytes = parseIpv6(plain);
  if (!bytes) return false;
  const embedded = embeddedIpv4(bytes);
  if (embedded) return !matches(embedded, v4Prefixes);
  return !matches(bytes, v6Prefixes);
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address. */
function embeddedIpv4(b: Uint8Array): Uint8Array | null {
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.subarray(12, 16);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.subarray(12, 16);
  if (b[0] === 0x20 && b[1] === 0x02) return b.subarray(2, 6);
  return null;
}

function matches(bytes: Uint8Array, prefixes: readonly (readonly [Uint8Array, number])[]): boolean {
  return prefixes.some(([net, bits]) => {
    if (net.length !== bytes.length) return false;
    const whole = bits >> 3;
    for (let i = 0; i < whole; i++) if (bytes[i] !== net[i]) return false;
    const rest = bits & 7;
    if (rest === 0) return true;
    const mask = (0xff << (8 - rest)) & 0xff;
    return (bytes[whole]! & mask) === (net[whole]! & mask);
  });
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    out[i] = Number(part);
  }
  return out;
}

/** 16 bytes from any textual IPv6 form (`::` compression, trailing dotted quad). */
function parseIpv6(text: string): Uint8Array | null {
  let head = text;
  let tail4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    tail4 = parseIpv4(text.slice(lastColon + 1));
    if (!tail4) return null;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}
