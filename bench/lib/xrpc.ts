/** Just enough XRPC over raw fetch to drive any PDS: both servers speak the same HTTP API. */

/** No single request may hang a run. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface Account {
  did: string;
  handle: string;
  /** Ready-made `Authorization` header value. */
  authorization: string;
}

export function xrpcUrl(base: string, nsid: string, params: Record<string, string | number> = {}): string {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return `${base}/xrpc/${nsid}${query ? `?${query}` : ""}`;
}

/** Throw with the status and the XRPC error body when a response is not 2xx. */
export async function ensureOk(res: Response, what: string): Promise<Response> {
  if (res.ok) return res;
  const body = await res.text().catch(() => "");
  throw new Error(`${what}: HTTP ${res.status} ${body.slice(0, 300)}`);
}

export async function postJson<T>(base: string, nsid: string, body: unknown, authorization?: string): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(xrpcUrl(base, nsid), {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return (await (await ensureOk(res, nsid)).json()) as T;
}

/** Create accounts `<prefix><i>.test` the way a client signs up: handle, email, password. */
export async function createAccounts(base: string, prefix: string, count: number): Promise<Account[]> {
  const accounts: Account[] = [];
  for (let i = 0; i < count; i++) {
    const handle = `${prefix}${i}.test`;
    const out = await postJson<{ did: string; accessJwt: string }>(base, "com.atproto.server.createAccount", {
      handle,
      email: `${prefix}${i}@bench.example`,
      password: `bench-password-${i}`,
    });
    accounts.push({ did: out.did, handle, authorization: `Bearer ${out.accessJwt}` });
  }
  return accounts;
}
