import { type MailTemplate, renderMail } from "./layout";

/** requestAccountDelete: the code deleteAccount takes with the password. */
export const deleteAccount: MailTemplate = {
  transport: "account",
  requires: ["token"],
  render: (v) =>
    renderMail({
      subject: "Delete your account",
      hostname: v.hostname!,
      paragraphs: [
        "Someone asked to delete your account. Deletion removes your posts, media and settings from this server and cannot be undone.",
        "To go ahead, enter this code with your password. It works for 15 minutes.",
      ],
      code: v.token,
      footer: "If this was not you, do not share the code, and consider changing your password.",
    }),
};
