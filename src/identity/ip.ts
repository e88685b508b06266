import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

/**
 * The SSRF policy. ipaddr.js files an address under its IANA special-purpose
 * range (RFC 6890 and its updates: loopback, private, link-local, unique
 * local, CGNAT, multicast, unspecified, broadcast, documentation,
 * benchmarking, Teredo, ORCHID, AS112, ...); only what it calls "unicast" is
 * public. Refusing every named range, rather than listing some, means a
 * range a later ipaddr.js learns is refused too.
 */
const PUBLIC_RANGE = "unicast";

/** The deprecated IPv4-compatible form `::a.b.c.d`, which ipaddr.js files under unicast. */
const V4_COMPATIBLE = ipaddr.parseCIDR("::/96");
/** Well-known NAT64 prefix (RFC 6052); the local-use 64:ff9b:1::/48 stays blocked as a whole. */
const NAT64 = ipaddr.parseCIDR("64:ff9b::/96");

export type AddressClass = { public: boolean; range: string };

/** The range an IP literal falls in and whether it is public; v6 forms embedding an IPv4 address are judged by that address. */
export function classifyAddress(address: string): AddressClass {
  const ip = parseStrict(address);
  if (!ip) return { public: false, range: "invalid" };
  if (ip.kind() === "ipv4") return judgeV4(ip as IPv4);
  const v6 = ip as IPv6;
  const embedded = embeddedIpv4(v6);
  if (embedded) return judgeV4(embedded);
  const range = v6.range() as string;
  if (range === PUBLIC_RANGE && v6.match(V4_COMPATIBLE)) return { public: false, range: "ipv4Compatible" };
  return { public: range === PUBLIC_RANGE, range };
}

/** True when `address` (an IP literal) may be fetched from the public internet. */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address).public;
}

/**
 * An IP literal, brackets and zone allowed. IPv4 must be four decimal parts:
 * ipaddr.js alone also takes `127.1` or `0x7f.0.0.1`, which no resolver
 * hands us and which would only widen what counts as an address.
 */
export function parseStrict(text: string): IPv4 | IPv6 | null {
  const plain = text.trim().replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  // node's isIP is strict and native: a cheap gate before ipaddr.js parses once (this runs per request).
  const family = isIP(plain);
  if (family === 4) return ipaddr.IPv4.parse(plain);
  return family === 6 ? ipaddr.IPv6.parse(plain) : null;
}

function judgeV4(ip: IPv4): AddressClass {
  const range = ip.range() as string;
  return { public: range === PUBLIC_RANGE, range };
}

/** The IPv4 address inside an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address. */
function embeddedIpv4(ip: IPv6): IPv4 | null {
  if (ip.isIPv4MappedAddress()) return ip.toIPv4Address();
  const p = ip.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  if (ip.match(NAT64)) return v4(p[6]!, p[7]!);
  if (ip.range() === "6to4") return v4(p[1]!, p[2]!);
  return null;
}
