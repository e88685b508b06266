import type { AppContext } from "@/app-context";

/** An XRPC procedure called through the whole request path of a context in this process (no socket). */
export type InProcessCall = (nsid: string, body: unknown, token?: string) => Promise<Record<string, string>>;

export function inProcessCaller(ctx: Pick<AppContext, "handle">): InProcessCall {
  return async (nsid, body, token) => {
    const res = await ctx.handle(
      new Request(`http://localhost/xrpc/${nsid}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      }),
    );
    if (res.status !== 200) throw new Error(`${nsid}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, string>;
  };
}

/** `count` accounts `<prefix><i>.test`, each with its DID and access token. */
export async function createAccounts(call: InProcessCall, prefix: string, count: number): Promise<{ did: string; token: string }[]> {
  const accounts: { did: string; token: string }[] = [];
  for (let i = 0; i < count; i++) {
    const a = await call("com.atproto.server.createAccount", { handle: `${prefix}${i}.test`, email: `${prefix}${i}@example.com`, password: `${prefix}-pass` });
    accounts.push({ did: a.did!, token: a.accessJwt! });
  }
  return accounts;
}
