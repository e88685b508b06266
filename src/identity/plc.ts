import type { Keypair } from "@atproto/crypto";
import * as plc from "@did-plc/lib";
import { InvalidRequestError, UpstreamUnavailableError } from "@/errors";
import { SafeFetchError, type SafeResponse, safeFetch } from "./safe-fetch";

/** The atproto fields of a did:plc document, as the directory's `/data` endpoint gives them. */
export interface PlcDocumentData {
  did: string;
  rotationKeys: string[];
  verificationMethods: Record<string, string>;
  alsoKnownAs: string[];
  services: Record<string, { type: string; endpoint: string }>;
}

/**
 * A PLC directory (PDS_DID_PLC_URL). The URL is the operator's choice, so
 * private addresses are allowed; requests are still bounded in time and size.
 * Network failures and 5xx answers are 503s (retry later); a 4xx means the
 * directory refused the operation and is passed on as a 400 with its reason.
 */
export interface PlcClient {
  readonly url: string;
  /** Sign a genesis operation with `signer` (a rotation key) and submit it; returns the new DID. */
  createDid(opts: { signingKey: string; handle: string; pds: string; rotationKeys: string[]; signer: Keypair }): Promise<string>;
  /** Replace the `at://` handle in the DID's document, signed by `signer` (a rotation key of the DID). */
  updateHandle(did: string, handle: string, signer: Keypair): Promise<void>;
  /** The document's atproto data, or null when the directory does not know the DID. */
  getDocumentData(did: string): Promise<PlcDocumentData | null>;
  /** The DID document, or null when the directory does not know the DID. */
  getDocument(did: string): Promise<Record<string, unknown> | null>;
  /** The DID's newest operation (possibly a tombstone or a legacy create), or null when the directory does not know the DID. */
  lastOperation(did: string): Promise<plc.CompatibleOpOrTombstone | null>;
  /** Submit an operation someone signed; the directory checks its signature and `prev`. */
  submitOperation(did: string, op: plc.OpOrTombstone): Promise<void>;
}

export function createPlcClient(url: string, timeoutMs = 10_000): PlcClient {
  const base = url.replace(/\/+$/, "");

  const call = async (path: string, init: { method?: "GET" | "POST"; body?: unknown } = {}): Promise<SafeResponse> => {
    let res: SafeResponse;
    try {
      res = await safeFetch(`${base}${path}`, {
        allowPrivate: true,
        timeoutMs,
        maxBytes: 1024 * 1024,
        method: init.method,
        headers: { accept: "application/json", ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    } catch (err) {
      if (err instanceof SafeFetchError) throw new UpstreamUnavailableError(`PLC directory unreachable: ${err.message}`, { cause: err });
      throw err;
    }
    if (res.status >= 500) throw new UpstreamUnavailableError(`PLC directory answered ${res.status}`);
    return res;
  };

  const readJson = async (did: string, suffix: string) => {
    const res = await call(`/${encodeURIComponent(did)}${suffix}`);
    if (res.status === 404 || res.status === 410) return null;
    if (res.status !== 200) throw refused(res);
    return res.json();
  };

  const submit = async (did: string, op: unknown) => {
    const res = await call(`/${encodeURIComponent(did)}`, { method: "POST", body: op });
    if (res.status !== 200) throw refused(res);
  };

  return {
    url: base,
    async createDid({ signingKey, handle, pds, rotationKeys, signer }) {
      const { op, did } = await plc.createOp({ signingKey, handle, pds, rotationKeys, signer: signer as never });
      await submit(did, op);
      return did;
    },
    async updateHandle(did, handle, signer) {
      const last = await readJson(did, "/log/last");
      if (!last) throw new InvalidRequestError(`PLC directory does not know ${did}`);
      if ((last as { type?: string }).type === "plc_tombstone") throw new InvalidRequestError(`${did} is tombstoned`);
      const op = await plc.updateHandleOp(last as plc.CompatibleOpOrTombstone as plc.CompatibleOp, signer as never, handle);
      await submit(did, op);
    },
    async getDocumentData(did) {
      return (await readJson(did, "/data")) as PlcDocumentData | null;
    },
    async getDocument(did) {
      return (await readJson(did, "")) as Record<string, unknown> | null;
    },
    async lastOperation(did) {
      return (await readJson(did, "/log/last")) as plc.CompatibleOpOrTombstone | null;
    },
    submitOperation: (did, op) => submit(did, op),
  };
}

function refused(res: SafeResponse): InvalidRequestError {
  let reason = `status ${res.status}`;
  try {
    const body = res.json() as { message?: unknown };
    if (typeof body.message === "string") reason = body.message.slice(0, 300);
  } catch {
    // Not JSON: the status says enough.
  }
  return new InvalidRequestError(`PLC directory refused the operation: ${reason}`);
}
