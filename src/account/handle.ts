import { InvalidHandleError, isValidTld, normalizeAndEnsureValidHandle } from "@atproto/syntax";
import { InvalidRequestError } from "@/errors";
import { RESERVED_HANDLE_LABELS } from "./reserved";

/** A label under a service domain: 3 to 18 characters. */
export const SERVICE_LABEL_MIN = 3;
export const SERVICE_LABEL_MAX = 18;

/** Lower-cased and checked against the handle syntax; 400 InvalidHandle otherwise. */
export function normalizeHandleSyntax(input: string): string {
  try {
    return normalizeAndEnsureValidHandle(input);
  } catch (err) {
    if (err instanceof InvalidHandleError) throw new InvalidRequestError(err.message, "InvalidHandle");
    throw err;
  }
}

/** The service domain (e.g. `.example.com`) that `handle` is under, if any. */
export function serviceDomainOf(handle: string, domains: readonly string[]): string | undefined {
  return domains.find((domain) => handle.endsWith(domain));
}

/**
 * Check a handle a user asks for. Handles under one of the server's domains
 * must be a single label of 3–18 characters and not reserved; other handles
 * are allowed only for an existing account (`external: true`), whose caller
 * then checks that the handle resolves to it. `allowReserved`: an admin may
 * give out reserved labels (the other rules still hold).
 */
export function validateRequestedHandle(input: string, domains: readonly string[], opts: { external: boolean; allowReserved?: boolean }): string {
  const handle = normalizeHandleSyntax(input);
  if (!isValidTld(handle)) throw new InvalidRequestError("Handle TLD is invalid or disallowed", "InvalidHandle");
  const domain = serviceDomainOf(handle, domains);
  if (!domain) {
    if (!opts.external) throw new InvalidRequestError("Not a supported handle domain", "UnsupportedDomain");
    return handle;
  }
  const label = handle.slice(0, handle.length - domain.length);
  if (label.includes(".")) throw new InvalidRequestError("Invalid characters in handle", "InvalidHandle");
  if (label.length < SERVICE_LABEL_MIN) throw new InvalidRequestError("Handle too short", "InvalidHandle");
  if (label.length > SERVICE_LABEL_MAX) throw new InvalidRequestError("Handle too long", "InvalidHandle");
  if (!opts.allowReserved && RESERVED_HANDLE_LABELS.has(label)) throw new InvalidRequestError("Reserved handle", "HandleNotAvailable");
  return handle;
}
