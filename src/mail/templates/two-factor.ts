import { type MailTemplate, renderMail } from "./layout";

/** createSession with email two-factor on: the sign-in code. */
export const twoFactor: MailTemplate = {
  transport: "account",
  requires: ["token"],
  render: (v) =>
    renderMail({
      subject: "Your sign-in code",
      hostname: v.hostname!,
      paragraphs: ["Someone signed in to your account with your password. Enter this code to finish signing in. It works for 15 minutes."],
      code: v.token,
      footer: "If this was not you, do not share the code, and change your password now.",
    }),
};
