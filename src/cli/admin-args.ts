import { isValidDid } from "@atproto/syntax";
import { UsageError } from "./usage-error";

/** The DID argument of an admin command, checked before anything is sent (exit 2 when it is not a DID). */
export function didArg(value: string | undefined): string {
  if (value === undefined) throw new UsageError("missing the account's DID");
  if (!isValidDid(value)) throw new UsageError(`"${value}" is not a DID (did:plc or did:web)`);
  return value;
}

/** A whole-number flag within bounds, or undefined when the flag was not given. */
export function wholeNumber(value: unknown, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${flag} expects a whole number from ${min} to ${max}`);
  }
  return Number(value);
}
