import { type MailTemplate, renderMail } from "./layout";

/** requestEmailUpdate: sent to the current (confirmed) address before it may be changed. */
export const updateEmail: MailTemplate = {
  transport: "account",
  requires: ["token"],
  render: (v) =>
    renderMail({
      subject: "Change your email address",
      hostname: v.hostname!,
      paragraphs: ["Someone asked to change the email address of your account. To allow it, enter this code in your app. It works for 15 minutes."],
      code: v.token,
      footer: "If this was not you, do not share the code, and consider changing your password.",
    }),
};
