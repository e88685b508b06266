/** Redaction helpers for anything that prints settings (plugins' describe(), `aurora config print`). No imports: plugins use it through the kit. */
export const REDACTED = "[redacted]";

/** `postgresql://u:secret@h/db` → `postgresql://u:[redacted]@h/db`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = REDACTED;
    return parsed.toString().replace(encodeURIComponent(REDACTED), REDACTED);
  } catch {
    return REDACTED;
  }
}
