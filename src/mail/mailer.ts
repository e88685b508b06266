import { createTransport, type Transporter } from "nodemailer";
import { Counter, type Registry } from "prom-client";
import type { ResolvedConfig } from "@/config/resolve";
import type { Logger } from "@/log";
import { withTimeout } from "@/util/with-timeout";
import { TEMPLATES, type TemplateName } from "./templates";

export type { TemplateName } from "./templates";

export interface MailMessage {
  template: TemplateName;
  to: string;
  vars: Record<string, string>;
}

/**
 * Outgoing mail. `send` never throws and never holds its caller longer
 * than `email.sendTimeoutMs`: a slow SMTP server keeps the send going in
 * the background, and every outcome is logged and counted in
 * `aurora_email_sent_total{template,result}` (sent, failed, unconfigured).
 */
export interface Mailer {
  send(msg: MailMessage): Promise<void>;
  /** Waits (bounded) for sends still in flight, then closes the SMTP connections. */
  close(): Promise<void>;
}

/** Give up on a single SMTP exchange after this long, so a background send cannot hang for ever. */
const SMTP_TIMEOUT_MS = 30_000;

export function createMailer(deps: { config: Pick<ResolvedConfig, "email" | "service">; log: Logger; registry: Registry }): Mailer {
  const { email, service } = deps.config;
  const log = deps.log.child({ component: "mail" });
  const counter = new Counter({
    name: "aurora_email_sent_total",
    help: "Emails by template and outcome: sent (accepted by the SMTP server), failed, unconfigured (no SMTP server set)",
    labelNames: ["template", "result"] as const,
    registers: [deps.registry],
  });
  const transports = {
    account: email.smtpUrl ? smtp(email.smtpUrl) : null,
    moderation: email.moderationSmtpUrl ? smtp(email.moderationSmtpUrl) : null,
  };
  const senders = { account: email.fromAddress, moderation: email.moderationAddress };
  if (!transports.account && !service.devMode) {
    log.warn("no SMTP server configured (PDS_EMAIL_SMTP_URL): account mail is not sent; email confirmation, password reset and sign-in codes cannot reach users");
  }
  const inFlight = new Set<Promise<void>>();

  const deliver = async (msg: MailMessage): Promise<void> => {
    const template = TEMPLATES[msg.template];
    const missing = template.requires.find((name) => msg.vars[name] === undefined);
    if (missing) throw new Error(`mail template ${msg.template} needs the variable ${missing}`);
    const rendered = template.render({ ...msg.vars, hostname: service.hostname });
    const transport = transports[template.transport];
    if (!transport) {
      counter.inc({ template: msg.template, result: "unconfigured" });
      // Only dev mode logs the message itself: it carries a live token.
      if (service.devMode) log.info("email not sent (no SMTP server configured)", { template: msg.template, to: msg.to, subject: rendered.subject, vars: msg.vars });
      else log.info("email not sent (no SMTP server configured)", { template: msg.template });
      return;
    }
    const started = performance.now();
    try {
      const info = await transport.sendMail({ from: senders[template.transport], to: msg.to, ...rendered });
      counter.inc({ template: msg.template, result: "sent" });
      log.info("email sent", { template: msg.template, messageId: info.messageId, ms: Math.round(performance.now() - started) });
    } catch (err) {
      counter.inc({ template: msg.template, result: "failed" });
      log.warn("email failed", { template: msg.template, err, ms: Math.round(performance.now() - started) });
    }
  };

  return {
    async send(msg) {
      const sending = deliver(msg).catch((err) => {
        counter.inc({ template: msg.template, result: "failed" });
        log.error("email could not be built", { template: msg.template, err });
      });
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      // Past the wait the caller goes on; the send does not (its outcome is logged when it comes).
      await withTimeout(sending, email.sendTimeoutMs).catch(() => log.info("email still sending in the background", { template: msg.template }));
    },

    async close() {
      await withTimeout(Promise.allSettled([...inFlight]), email.sendTimeoutMs).catch(() => log.warn("closing with emails still sending", { count: inFlight.size }));
      for (const transport of Object.values(transports)) transport?.close();
    },
  };
}

/** TLS, port and credentials all come from the URL (smtps:// = TLS from the start; smtp:// upgrades with STARTTLS when offered). */
function smtp(url: string): Transporter {
  return createTransport({ url, connectionTimeout: SMTP_TIMEOUT_MS, greetingTimeout: SMTP_TIMEOUT_MS, socketTimeout: SMTP_TIMEOUT_MS });
}
