import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readCookie } from "@/web/cookie";

/**
 * The admin page's sign-in: a stateless cookie, so any node of a cluster
 * accepts a session another node opened and nothing is stored. The value is
 * `<expiry>.<nonce>.<mac>`: the expiry in seconds since the epoch, a random
 * nonce (what the CSRF tokens of the session's forms are bound to) and an
 * HMAC-SHA256 of both under a key derived from the JWT secret and the admin
 * password, so changing the password ends every session.
 */

/** The cookie's name; it is sent only to /admin. */
export const ADMIN_COOKIE = "aurora-admin";
/** How long a sign-in lasts. */
export const ADMIN_SESSION_SECONDS = 8 * 60 * 60;

/** A valid session: its nonce (the CSRF binding) and when it ends. */
export interface AdminSession {
  nonce: string;
  expiresAt: number;
}

export interface AdminSessions {
  /** A new session and the Set-Cookie header that opens it. */
  open(now?: number): { session: AdminSession; cookie: string };
  /** The session the request's cookie carries, or null (missing, forged, expired). */
  read(request: Request, now?: number): AdminSession | null;
  /** The Set-Cookie header that clears the cookie (sign-out). */
  clear(): string;
  /** The key the CSRF tokens of the admin forms are made with. */
  readonly csrfSecret: string;
}

/** Sessions signed under keys derived from `jwtSecret` and `adminPassword`; `secure` adds the Secure flag (https). */
export function createAdminSessions(opts: { jwtSecret: string; adminPassword: string; secure: boolean }): AdminSessions {
  const passwordHash = createHash("sha256").update(opts.adminPassword).digest("hex");
  const derive = (label: string) => createHmac("sha256", opts.jwtSecret).update(`aurora admin ${label}\0${passwordHash}`).digest();
  const macKey = derive("session");
  const csrfSecret = derive("csrf").toString("base64url");
  const mac = (payload: string) => createHmac("sha256", macKey).update(payload).digest("base64url");
  const flags = `Path=/admin; HttpOnly; SameSite=Strict${opts.secure ? "; Secure" : ""}`;

  return {
    csrfSecret,
    open(now = Date.now()) {
      const session = { nonce: Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url"), expiresAt: Math.floor(now / 1000) + ADMIN_SESSION_SECONDS };
      const payload = `${session.expiresAt}.${session.nonce}`;
      return { session, cookie: `${ADMIN_COOKIE}=${payload}.${mac(payload)}; ${flags}; Max-Age=${ADMIN_SESSION_SECONDS}` };
    },
    read(request, now = Date.now()) {
      const value = readCookie(request.headers.get("cookie"), ADMIN_COOKIE);
      if (!value || value.length > 200) return null;
      const parts = value.split(".");
      if (parts.length !== 3 || !/^\d{1,12}$/.test(parts[0]!)) return null;
      const given = Buffer.from(parts[2]!);
      const expected = Buffer.from(mac(`${parts[0]}.${parts[1]}`));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      const expiresAt = Number(parts[0]);
      if (expiresAt * 1000 <= now) return null;
      return { nonce: parts[1]!, expiresAt };
    },
    clear: () => `${ADMIN_COOKIE}=; ${flags}; Max-Age=0`,
  };
}
