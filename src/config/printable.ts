import { REDACTED, redactUrl } from "./redact";
import type { ResolvedConfig } from "./resolve";

/** The resolved config as plain JSON for `aurora config print`: no secret leaves. */
export function printableConfig(config: ResolvedConfig): Record<string, unknown> {
  const plugin = (p: { name: string; describe(): Record<string, unknown> }) => ({ plugin: p.name, ...p.describe() });
  return {
    ...config,
    secrets: Object.fromEntries(
      (["jwtSecret", "adminPassword", "plcRotationKeyHex"] as const).map((k) => [
        k,
        config.secrets[k] ? REDACTED : config.service.devMode ? "(generated on first start)" : "(missing)",
      ]),
    ),
    rateLimit: { ...config.rateLimit, bypassKey: config.rateLimit.bypassKey ? REDACTED : undefined },
    metrics: { ...config.metrics, token: config.metrics.token ? REDACTED : undefined },
    // SMTP URLs carry the mail account's password.
    email: {
      ...config.email,
      smtpUrl: config.email.smtpUrl && redactUrl(config.email.smtpUrl),
      moderationSmtpUrl: config.email.moderationSmtpUrl && redactUrl(config.email.moderationSmtpUrl),
    },
    db: plugin(config.db),
    blobs: plugin(config.blobs),
    cache: plugin(config.cache),
  };
}
