import { ignoreIfNotYou, type MailTemplate, renderMail } from "./layout";

/** requestEmailConfirmation: the code that proves the address is the user's. */
export const confirmEmail: MailTemplate = {
  transport: "account",
  requires: ["token"],
  render: (v) =>
    renderMail({
      subject: "Confirm your email address",
      hostname: v.hostname!,
      paragraphs: ["Enter this code in your app to confirm this email address for your account. It works for 15 minutes."],
      code: v.token,
      footer: ignoreIfNotYou,
    }),
};
