import { Secp256k1Keypair } from "@atproto/crypto";
import * as plcLib from "@did-plc/lib";
import { mintServiceJwt } from "@/auth/service-jwt";
/** A service identity (a moderation service, or any other) in the PLC directory with its own signing key. */
export interface ServiceIdentity {
  did: string;
  signing: Secp256k1Keypair;
  /** A service-auth header for one call of `lxm` to the server `aud`, as Ozone sends it. */
  bearer(aud: string, lxm: string): Promise<string>;
}

export async function serviceIdentity(plcUrl: string, name: string): Promise<ServiceIdentity> {
  const rotation = await Secp256k1Keypair.create();
  const signing = await Secp256k1Keypair.create();
  const did = await new plcLib.Client(plcUrl).createDid({
    signingKey: signing.did(),
    handle: `${name}.example`,
    pds: `https://${name}.example`,
    rotationKeys: [rotation.did()],
    signer: rotation as never,
  });
  return {
    did,
    signing,
    bearer: async (aud, lxm) => `Bearer ${await mintServiceJwt(signing, { iss: did, aud, lxm })}`,
  };
}
