import { BlockList, isIP } from "node:net";

/** Used when the socket peer is not known (a request handed to `ctx.handle` in process). */
export const UNKNOWN_IP = "unknown";

/** `::ffff:1.2.3.4` → `1.2.3.4`; brackets and IPv6 zones dropped. Returns null for anything that is not an IP. */
export function normalizeIp(raw: string): string | null {
  let ip = raw.trim();
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  const zone = ip.indexOf("%");
  if (zone >= 0) ip = ip.slice(0, zone);
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) ip = ip.slice(7);
  return isIP(ip) ? ip.toLowerCase() : null;
}

/** True for an IP address or a CIDR range such as `10.0.0.0/8` or `fc00::/7`. */
export function isIpOrRange(entry: string): boolean {
  const [address, bits, extra] = entry.split("/");
  const ip = address === undefined ? null : normalizeIp(address);
  if (ip === null || extra !== undefined) return false;
  if (bits === undefined) return true;
  const max = isIP(ip) === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

/** A membership test over addresses and CIDR ranges (validated by the config beforehand). */
export function ipMatcher(entries: readonly string[]): (ip: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", bits] = entry.split("/");
    const ip = normalizeIp(address);
    if (ip === null) continue;
    const family = isIP(ip) === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(bits), family);
  }
  return (ip) => ip !== UNKNOWN_IP && list.check(ip, isIP(ip) === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's IP. Forwarding headers are believed only when the socket
 * peer is a trusted proxy; then X-Forwarded-For is read from the right,
 * skipping trusted hops, and the first untrusted address is the client
 * (what each trusted proxy appended, not what the client wrote on the
 * left). X-Real-IP is used when there is no X-Forwarded-For.
 */
export function clientIp(request: Request, peer: string | undefined, trusted: (ip: string) => boolean): string {
  const direct = (peer && normalizeIp(peer)) || UNKNOWN_IP;
  if (!trusted(direct)) return direct;
  const forwarded = request.headers.get("x-forwarded-for");
  if (forwarded) {
    const hops = forwarded.split(",").map(normalizeIp).filter((ip): ip is string => ip !== null);
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!trusted(hops[i] as string) || i === 0) return hops[i] as string;
    }
  }
  const real = request.headers.get("x-real-ip");
  return (real && normalizeIp(real)) || direct;
}
