import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { Secp256k1Keypair, verifySignature } from "@atproto/crypto";
import { createSigningKeyVault } from "@/account/signing-keys";
import { secp256k1Backend, Secp256k1Signer } from "./secp256k1";

const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const sValue = (sig: Uint8Array) => BigInt(`0x${Buffer.from(sig.subarray(32)).toString("hex")}`);

describe("Secp256k1Signer", () => {
  test("signs with libsecp256k1 on the platforms that have a prebuild", () => {
    const hasPrebuild = (process.platform === "linux" && process.arch === "x64") || (process.platform === "darwin" && process.arch === "arm64");
    expect(secp256k1Backend).toBe(hasPrebuild ? "libsecp256k1" : "noble");
  });

  test("1,000 random keys and messages: the @atproto/crypto signature, byte for byte, low-S, verifying against the did:key", async () => {
    for (let i = 0; i < 1000; i++) {
      const signer = Secp256k1Signer.generate({ exportable: true });
      const reference = await Secp256k1Keypair.import(await signer.export());
      const msg = randomBytes(1 + (i % 400));
      const sig = await signer.sign(msg);
      expect(sig.length).toBe(64);
      expect(sValue(sig) <= HALF_ORDER).toBe(true);
      // noble signs with RFC 6979 nonces and low-S: equal bytes mean the same deterministic scheme.
      expect(Buffer.from(sig).equals(Buffer.from(await reference.sign(msg)))).toBe(true);
      expect(signer.did()).toBe(reference.did());
      expect(await verifySignature(signer.did(), msg, sig)).toBe(true);
      // Strict verification (no malleable signatures) rejects any other message.
      msg[0] = msg[0]! ^ 1;
      expect(await verifySignature(signer.did(), msg, sig)).toBe(false);
    }
  });

  test("signing is deterministic and a key read back from its secret is the same key", async () => {
    const signer = Secp256k1Signer.generate({ exportable: true });
    const secret = await signer.export();
    const again = Secp256k1Signer.fromSecret(Buffer.from(secret).toString("hex"), { exportable: false });
    const msg = new TextEncoder().encode("commit bytes");
    expect(again.did()).toBe(signer.did());
    expect(Buffer.from(await again.sign(msg)).equals(Buffer.from(await signer.sign(msg)))).toBe(true);
    expect(again.jwtAlg).toBe("ES256K");
    await expect(again.export()).rejects.toThrow();
  });

  test("bytes that are not a secret key are refused", () => {
    const order = Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex");
    for (const bad of [new Uint8Array(32), order, new Uint8Array(31).fill(1)]) {
      expect(() => Secp256k1Signer.fromSecret(bad, { exportable: true })).toThrow();
    }
  });

  test("the vault keeps its sealed format: a key sealed before opens as a signer with the same did:key", async () => {
    const vault = createSigningKeyVault(randomBytes(32).toString("hex"));
    const before = await Secp256k1Keypair.create({ exportable: true });
    const opened = await vault.open("did:plc:test", await vault.seal("did:plc:test", before));
    expect(opened).toBeInstanceOf(Secp256k1Signer);
    expect(opened.did()).toBe(before.did());
    expect(Buffer.from(await opened.export()).equals(Buffer.from(await before.export()))).toBe(true);
    const msg = randomBytes(100);
    expect(await verifySignature(before.did(), msg, await opened.sign(msg))).toBe(true);
    const fresh = await vault.generate();
    expect(fresh).toBeInstanceOf(Secp256k1Signer);
    expect((await vault.open("did:plc:fresh", await vault.seal("did:plc:fresh", fresh))).did()).toBe(fresh.did());
  });
});
