import type { Caller } from "@/auth/types";

/**
 * What the reference PDS allows of account preferences, as pure functions:
 * which namespace a method serves, which preferences only a full session may
 * see or set, and which are derived on read and never stored.
 */

/** A preference as clients send and read it: an open union member, told apart by `$type`. */
export type Preference = Record<string, unknown> & { $type: string };

/** The one namespace the app.bsky.actor methods read and replace. */
export const APP_BSKY = "app.bsky";

export const PERSONAL_DETAILS = "app.bsky.actor.defs#personalDetailsPref";
export const DECLARED_AGE = "app.bsky.actor.defs#declaredAgePref";

/** Who is asking: only a full session (not an app password, privileged or not) handles personal details. */
export interface PreferenceAccess {
  readonly fullAccess: boolean;
}

/** A full session has full access; app passwords (even privileged ones, as in the reference) do not. */
export function accessOf(caller: Caller): PreferenceAccess {
  return { fullAccess: caller.kind === "access" };
}

/** `app.bsky` covers `app.bsky` itself and everything under `app.bsky.`, case-sensitively. */
export function inNamespace(namespace: string, type: string): boolean {
  return type === namespace || type.startsWith(`${namespace}.`);
}

/** The birth date is personal data: the reference shows and accepts it for full sessions only. */
export function allowed(type: string, access: PreferenceAccess): boolean {
  return access.fullAccess || type !== PERSONAL_DETAILS;
}

/** Computed from the personal details on every read; a client sending it back changes nothing. */
export function readOnly(type: string): boolean {
  return type === DECLARED_AGE;
}

/**
 * The age brackets read from `personalDetailsPref.birthDate`, which every
 * caller may see (app passwords included) though the date itself is hidden.
 * Undefined when there is no usable birth date.
 */
export function declaredAge(stored: readonly Preference[], now = new Date()): Preference | undefined {
  const birthDate = stored.find((p) => p.$type === PERSONAL_DETAILS)?.birthDate;
  if (typeof birthDate !== "string") return undefined;
  const born = new Date(birthDate);
  if (Number.isNaN(born.getTime())) return undefined;
  const age = ageOn(born, now);
  return { $type: DECLARED_AGE, isOverAge13: age >= 13, isOverAge16: age >= 16, isOverAge18: age >= 18 };
}

/** Whole years from `born` to `now`, in UTC (a birthday counts from its first instant). */
export function ageOn(born: Date, now: Date): number {
  const years = now.getUTCFullYear() - born.getUTCFullYear();
  const beforeBirthday =
    now.getUTCMonth() < born.getUTCMonth() || (now.getUTCMonth() === born.getUTCMonth() && now.getUTCDate() < born.getUTCDate());
  return beforeBirthday ? years - 1 : years;
}
