import { type MailTemplate, renderMail } from "./layout";

/** A message from the server's moderators (admin sendEmail); goes through the moderation transport. */
export const moderation: MailTemplate = {
  transport: "moderation",
  requires: ["subject", "content"],
  render: (v) =>
    renderMail({
      subject: v.subject!,
      hostname: v.hostname!,
      paragraphs: v.content!.split(/\n{2,}/),
      footer: `Sent by the moderators of ${v.hostname}.`,
    }),
};
