/**
 * Who may call a method, checked by the XRPC layer before the handler runs:
 * - "none": anyone (the default);
 * - "optional": a valid access token is used when present, never required;
 * - "access": an access token (full session or app password);
 * - "privileged": an access token that is a full session or a privileged app password;
 * - "full": a full session only (not an app password);
 * - "refresh": a refresh token (refreshSession, deleteSession);
 * - "admin": HTTP Basic `admin:<admin password>`.
 */
export type AuthMode = "none" | "optional" | "access" | "privileged" | "full" | "refresh" | "admin";

/** The verified caller. `did` is absent only for the admin. */
export interface Caller {
  readonly kind: "access" | "appPass" | "appPassPrivileged" | "refresh" | "admin";
  readonly did?: string;
  /** The token's `jti` (refresh tokens) or app password name, when there is one. */
  readonly tokenId?: string;
}
