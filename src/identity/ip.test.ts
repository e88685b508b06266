import { describe, expect, test } from "bun:test";
import ipaddr from "ipaddr.js";
import { classifyAddress, isPublicAddress } from "./ip";

describe("classifyAddress", () => {
  test.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["192.0.2.10", "reserved"],
    ["198.18.0.1", "reserved"],
    ["240.0.0.1", "reserved"],
    ["192.175.48.1", "as112"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["fe80::1", "linkLocal"],
    ["fe80::1%eth0", "linkLocal"],
    ["fec0::1", "deprecatedSiteLocal"],
    ["fc00::1", "uniqueLocal"],
    ["fd12:3456::1", "uniqueLocal"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["2001::1", "teredo"],
    ["100::1", "discard"],
    ["64:ff9b:1::1", "rfc6052"],
    ["::7f00:1", "ipv4Compatible"],
    ["::808:808", "ipv4Compatible"],
    // IPv6 forms that carry an IPv4 address are judged by that address.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::127.0.0.1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["64:ff9b::a00:1", "private"],
    ["64:ff9b::169.254.169.254", "linkLocal"],
    ["2002:7f00:1::1", "loopback"],
    ["2002:c0a8:101::1", "private"],
    ["not an ip", "invalid"],
    ["999.1.1.1", "invalid"],
    ["1.2.3", "invalid"],
    ["127.1", "invalid"],
    ["0x7f.0.0.1", "invalid"],
    ["1::2::3", "invalid"],
    ["", "invalid"],
  ])("%s is not public (%s)", (address, range) => {
    expect(classifyAddress(address)).toEqual({ public: false, range });
  });

  test.each([
    ["1.1.1.1"],
    ["8.8.8.8"],
    ["172.32.0.1"],
    ["100.128.0.1"],
    ["2606:4700:4700::1111"],
    ["2a00:1450::1"],
    ["::ffff:8.8.8.8"],
    ["64:ff9b::808:808"],
    ["2002:808:808::1"],
  ])("%s is public", (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  test("no special-purpose range ipaddr.js knows is public", () => {
    type Network = [ipaddr.IPv4 | ipaddr.IPv6, number];
    // The tables ipaddr.js classifies by (not in its typings): a network or a list of them per name.
    const networks = (proto: object) =>
      Object.values((proto as { SpecialRanges: Record<string, Network | Network[]> }).SpecialRanges).flatMap((r) =>
        Array.isArray(r[0]) ? (r as Network[]) : [r as Network],
      );
    const v4 = networks(ipaddr.IPv4.prototype);
    const v6 = networks(ipaddr.IPv6.prototype);
    expect(v4.length + v6.length).toBeGreaterThan(20);
    for (const [net] of [...v4, ...v6]) {
      expect({ net: net.toString(), public: isPublicAddress(net.toString()) }).toEqual({ net: net.toString(), public: false });
    }
  });
});
