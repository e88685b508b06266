import { confirmEmail } from "./confirm-email";
import { deleteAccount } from "./delete-account";
import type { MailTemplate } from "./layout";
import { moderation } from "./moderation";
import { plcOperation } from "./plc-operation";
import { resetPassword } from "./reset-password";
import { twoFactor } from "./two-factor";
import { updateEmail } from "./update-email";

export type { MailTemplate, RenderedMail } from "./layout";

/** Every message Aurora sends, by name (the `template` label of aurora_email_sent_total). */
export const TEMPLATES = {
  "confirm-email": confirmEmail,
  "update-email": updateEmail,
  "reset-password": resetPassword,
  "delete-account": deleteAccount,
  "plc-operation": plcOperation,
  "two-factor": twoFactor,
  moderation,
} as const satisfies Record<string, MailTemplate>;

export type TemplateName = keyof typeof TEMPLATES;
