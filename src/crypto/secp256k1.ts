import { Secp256k1Keypair } from "@atproto/crypto";
import { createHash, randomBytes } from "node:crypto";

/**
 * Account signing keys that sign with libsecp256k1 (the `secp256k1` npm
 * package's prebuilt N-API addon) instead of @noble/curves: ~4x faster per
 * signature (~65 µs against ~280 µs; bench/sign.ts), and every commit is
 * signed. The signatures are the same bytes: RFC 6979 deterministic nonces,
 * compact r||s, low-S (libsecp256k1 never makes a high-S one).
 *
 * It stays a `Secp256k1Keypair` (did:key, export, public key all as before;
 * only `sign` changes), so code typed against @atproto/crypto takes it as it is,
 * and where the addon cannot load (a platform without a prebuild) `sign`
 * falls back to the inherited noble one.
 */

interface Libsecp256k1 {
  ecdsaSign(digest: Uint8Array, secret: Uint8Array): { signature: Uint8Array };
  privateKeyVerify(secret: Uint8Array): boolean;
  contextRandomize(seed: Uint8Array): void;
}

/**
 * Each prebuild is named by a literal path: `bun build --compile` embeds a
 * `.node` file only when it sees it required that way. The package's own entry
 * point finds its addon with a directory lookup at run time, which finds
 * nothing inside the binary and then quietly falls back to a pure-JS curve
 * ~15x slower than libsecp256k1, so it is never imported.
 */
function loadAddon(): { Secp256k1: new () => unknown } | null {
  if (process.platform === "linux" && process.arch === "x64") {
    try {
      return require("secp256k1/prebuilds/linux-x64/secp256k1.glibc.node");
    } catch {
      return require("secp256k1/prebuilds/linux-x64/secp256k1.musl.node");
    }
  }
  if (process.platform === "darwin" && process.arch === "arm64") return require("secp256k1/prebuilds/darwin-arm64/secp256k1.node");
  return null;
}

function loadLibsecp256k1(): Libsecp256k1 | null {
  try {
    const addon = loadAddon();
    if (!addon) return null;
    const lib: Libsecp256k1 = require("secp256k1/lib")(new addon.Secp256k1());
    // Blinds the context's precomputed multiplication against side channels (libsecp256k1's advice).
    lib.contextRandomize(randomBytes(32));
    return lib;
  } catch {
    return null;
  }
}

const libsecp256k1 = loadLibsecp256k1();

/** Which code signs: "libsecp256k1" where the addon loaded, else "noble". */
export const secp256k1Backend: "libsecp256k1" | "noble" = libsecp256k1 ? "libsecp256k1" : "noble";

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const isSecretKey = (bytes: Uint8Array) => {
  const n = BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
  return n > 0n && n < CURVE_ORDER;
};

export class Secp256k1Signer extends Secp256k1Keypair {
  readonly #secret: Uint8Array;

  /** Throws on bytes that are not a secp256k1 secret key (the inherited constructor derives the public key). */
  constructor(secret: Uint8Array, exportable: boolean) {
    super(secret, exportable);
    this.#secret = Uint8Array.from(secret);
  }

  /** A fresh random key. */
  static generate(opts: { exportable: boolean }): Secp256k1Signer {
    for (;;) {
      const secret = randomBytes(32);
      if (isSecretKey(secret)) return new Secp256k1Signer(secret, opts.exportable);
    }
  }

  /** The key of 32 raw secret bytes (what `export()` gives), or of their hex. */
  static fromSecret(secret: Uint8Array | string, opts: { exportable: boolean }): Secp256k1Signer {
    return new Secp256k1Signer(typeof secret === "string" ? Buffer.from(secret, "hex") : secret, opts.exportable);
  }

  /** Compact 64-byte r||s, low-S, over SHA-256 of `msg`. */
  override async sign(msg: Uint8Array): Promise<Uint8Array> {
    if (!libsecp256k1) return super.sign(msg);
    return libsecp256k1.ecdsaSign(createHash("sha256").update(msg).digest(), this.#secret).signature;
  }
}
