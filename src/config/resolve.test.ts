import { describe, expect, test } from "bun:test";
import { ConfigError } from "@/errors";
import { resolveConfig } from "./resolve";

describe("resolveConfig", () => {
  test("applies the documented defaults", () => {
    const config = resolveConfig({}, "/srv");
    expect(config.service).toMatchObject({
      hostname: "localhost",
      port: 2583,
      publicUrl: "http://localhost:2583",
      did: "did:web:localhost",
      handleDomains: [".test"],
      inviteRequired: true,
      devMode: true,
      blobUploadLimit: 104857600,
      maxJsonBodyBytes: 153600,
    });
    expect(config.dataDir).toBe("/srv/data");
    expect(config.identity.plcUrl).toBe("https://plc.directory");
    expect([config.db.name, config.blobs.name, config.cache.name]).toEqual(["db-sqlite", "storage-disk", "cache-memory"]);
    expect(config.caching).toEqual({ enabled: true, defaultTtl: 300, didDocTtl: 3600, handleTtl: 1800, sessionTtl: 600, repoTtl: 300 });
    expect(config.rateLimit).toMatchObject({ enabled: true, distributed: false, authenticated: 6000, unauthenticated: 600, admin: 60000 });
  });

  test.each([
    [{ hostname: "localhost", port: 3000 }, "http://localhost:3000", "did:web:localhost", [".test"], true],
    [{ hostname: "pds.example.com" }, "https://pds.example.com", "did:web:pds.example.com", [".pds.example.com"], false],
    [{ hostname: "pds.example.com", publicUrl: "https://edge.example.com/" }, "https://edge.example.com", "did:web:pds.example.com", [".pds.example.com"], false],
  ])("public URL, DID, domains and dev mode follow the hostname: %j", (service, url, did, domains, dev) => {
    const config = resolveConfig({ service });
    expect(config.service.publicUrl).toBe(url);
    expect(config.service.did).toBe(did);
    expect(config.service.handleDomains).toEqual(domains);
    expect(config.service.devMode).toBe(dev);
  });

  test.each([
    [{}, false],
    [{ service: { devMode: true } }, false],
    [{ service: { hostname: "pds.example.com", devMode: true } }, false],
    [{ identity: { allowPrivateAddresses: true } }, true],
  ])("private addresses for identity lookups are their own opt-in, not dev mode: %j", (input, allowed) => {
    expect(resolveConfig(input).identity.allowPrivateAddresses).toBe(allowed);
  });

  test.each([
    [{ service: { port: 70000 } }, "service.port: Expected integer to be less or equal to 65535, got 70000"],
    [{ service: { port: "80" } }, "service.port: Expected integer"],
    [{ service: { prot: 80 } }, "service.prot: Unexpected property"],
    [{ db: { kind: "blobs", name: "x" } }, "db: expected a database plugin such as sqlite() or postgres()"],
    [{ crawlers: ["ftp://relay"] }, "crawlers.0: Expected string to match"],
    [{ log: { level: "loud" } }, "log.level: Expected one of trace, debug, info, warn, error, fatal, silent"],
  ])("a bad value names its field: %j", (input, message) => {
    expect(() => resolveConfig(input)).toThrow(ConfigError);
    expect(() => resolveConfig(input)).toThrow(message);
  });

  test("never echoes secret values in errors", () => {
    expect(() => resolveConfig({ secrets: { jwtSecret: "short" } })).toThrow("secrets.jwtSecret");
    try {
      resolveConfig({ secrets: { jwtSecret: "short" } });
    } catch (err) {
      expect((err as Error).message).not.toContain("short\"");
    }
  });

  test("distributed rate limiting needs a shared cache", () => {
    expect(() => resolveConfig({ rateLimit: { distributed: true } })).toThrow("rateLimit.distributed");
  });

  test("the resolved config is read-only", () => {
    const config = resolveConfig({});
    expect(Object.isFrozen(config.service)).toBe(true);
    expect(() => {
      (config.service as { port: number }).port = 1;
    }).toThrow();
  });
});
