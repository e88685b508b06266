import { type MailTemplate, renderMail } from "./layout";

/** requestPlcOperationSignature: the code that authorises a change to the account's DID document. */
export const plcOperation: MailTemplate = {
  transport: "account",
  requires: ["token"],
  render: (v) =>
    renderMail({
      subject: "Confirm a change to your account identity",
      hostname: v.hostname!,
      paragraphs: [
        "Someone asked to sign a change to your account's identity (its DID document), as when moving the account to another server.",
        "To allow it, enter this code. It works for 15 minutes.",
      ],
      code: v.token,
      footer: "If this was not you, do not share the code, and change your password.",
    }),
};
