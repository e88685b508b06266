import { ignoreIfNotYou, type MailTemplate, renderMail } from "./layout";

/** requestPasswordReset: the code resetPassword takes. */
export const resetPassword: MailTemplate = {
  transport: "account",
  requires: ["token", "handle"],
  render: (v) =>
    renderMail({
      subject: "Reset your password",
      hostname: v.hostname!,
      paragraphs: [`A password reset was requested for ${v.handle}. Enter this code in your app with your new password. It works for 15 minutes.`],
      code: v.token,
      footer: ignoreIfNotYou,
    }),
};
