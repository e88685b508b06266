import type { RunConfig } from "@/config/resolve";

/**
 * The server's own did:web document (`/.well-known/did.json`), naming this
 * server as an atproto PDS. Null when the service DID is not `did:web:` of
 * this server's hostname: then the document lives elsewhere.
 */
export function serviceDidDocument(service: RunConfig["service"]): Record<string, unknown> | null {
  if (service.did !== `did:web:${service.hostname}`) return null;
  return {
    "@context": ["https://www.w3.org/ns/did/v1"],
    id: service.did,
    service: [{ id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: service.publicUrl }],
  };
}
