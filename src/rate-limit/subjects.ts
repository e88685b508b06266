import { createHash } from "node:crypto";
import type { KeyKind } from "./types";

/** Subjects longer than this (user-supplied identifiers) are hashed, so state keys stay short. */
const MAX_SUBJECT = 128;

/** What a request offers to key rules by. */
export interface RequestFacts {
  readonly ip: string;
  readonly did: string | undefined;
  /** The JSON body's `identifier` and `email`, read only when a rule of the route needs them. */
  readonly body: { readonly identifier?: string; readonly email?: string } | undefined;
}

/** The state key subject of a rule for one request, or null when the rule does not apply (no DID). */
export function subjectOf(kind: KeyKind, facts: RequestFacts): string | null {
  switch (kind) {
    case "ip":
      return facts.ip;
    case "did":
      return facts.did ?? null;
    case "did-ip":
      return facts.did ? `${facts.did}@${facts.ip}` : null;
    case "identifier-ip":
      return shorten(`${(facts.body?.identifier ?? "").toLowerCase()}@${facts.ip}`);
    case "email-ip":
      return shorten(`${(facts.body?.email ?? "").toLowerCase()}@${facts.ip}`);
    case "email":
      return shorten((facts.body?.email ?? "").trim().toLowerCase());
  }
}

export function needsBody(kind: KeyKind): boolean {
  return kind === "identifier-ip" || kind === "email-ip" || kind === "email";
}

function shorten(subject: string): string {
  return subject.length <= MAX_SUBJECT ? subject : `h:${createHash("sha256").update(subject).digest("base64url")}`;
}

/**
 * The `identifier` and `email` string fields of a JSON body, read from a
 * clone so the handler still gets the body. A body over `maxBytes`, not
 * JSON, or not an object yields none (the handler refuses it anyway).
 */
export async function readBodyFields(request: Request, maxBytes: number): Promise<RequestFacts["body"]> {
  if (!request.body || Number(request.headers.get("content-length") ?? 0) > maxBytes) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of request.clone().body as ReadableStream<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) return undefined;
      chunks.push(chunk);
    }
    const body: unknown = JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
    if (!body || typeof body !== "object") return undefined;
    const { identifier, email } = body as Record<string, unknown>;
    return {
      identifier: typeof identifier === "string" ? identifier.trim() : undefined,
      email: typeof email === "string" ? email.trim() : undefined,
    };
  } catch {
    return undefined;
  }
}
