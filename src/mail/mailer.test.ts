import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { resolveConfig } from "@/config/resolve";
import type { UserConfig } from "@/config/schema";
import { createLogger } from "@/log";
import { type SmtpSink, startSmtpSink } from "@test/support/smtp";
import { createMailer } from "./mailer";
import { TEMPLATES, type TemplateName } from "./templates";

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.stop());

function mailer(email: UserConfig["email"], devMode = true) {
  const logs: Record<string, any>[] = [];
  const registry = new Registry();
  const config = resolveConfig({ service: { hostname: "pds.example", devMode }, email });
  const log = createLogger("info", (line) => logs.push(JSON.parse(line)));
  return { mailer: createMailer({ config, log, registry }), logs, metric: () => registry.getSingleMetricAsString("aurora_email_sent_total") };
}

describe("mailer over a real SMTP server", () => {
  test.each(Object.keys(TEMPLATES).filter((t) => t !== "moderation") as TemplateName[])("%s: text and HTML, the code in both", async (template) => {
    const { mailer: m, metric } = mailer({ smtpUrl: sink.url, fromAddress: "PDS <noreply@pds.example>" });
    const to = `${template}@example.com`;
    await m.send({ template, to, vars: { token: "ABCDE-23456", handle: "alice.<b>pds.example" } });
    const mail = await sink.next(to);
    expect(mail.from).toBe("noreply@pds.example");
    expect(mail.text).toContain("ABCDE-23456");
    expect(mail.html).toContain("ABCDE-23456");
    expect(mail.html).not.toMatch(/https?:\/\//);
    if (template === "reset-password") {
      expect(mail.text).toContain("alice.<b>pds.example");
      expect(mail.html).toContain("alice.&lt;b&gt;pds.example");
    }
    expect(await metric()).toContain(`aurora_email_sent_total{template="${template}",result="sent"} 1`);
    await m.close();
  });

  test("moderation mail goes through the moderation transport, from its own address", async () => {
    const { mailer: m } = mailer({ smtpUrl: "smtp://127.0.0.1:1", moderationSmtpUrl: sink.url, moderationAddress: "mod@pds.example" });
    await m.send({ template: "moderation", to: "user@example.com", vars: { subject: "About your post", content: "First <p>.\n\nSecond." } });
    const mail = await sink.next("user@example.com");
    expect(mail).toMatchObject({ from: "mod@pds.example", subject: "About your post" });
    expect(mail.html).toContain("First &lt;p&gt;.");
    await m.close();
  });

  test("SMTP down: send resolves, the failure is logged and counted", async () => {
    const down = await startSmtpSink();
    await down.stop();
    const { mailer: m, logs, metric } = mailer({ smtpUrl: down.url });
    const started = performance.now();
    await m.send({ template: "confirm-email", to: "x@example.com", vars: { token: "ABCDE-23456" } });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await metric()).toContain('aurora_email_sent_total{template="confirm-email",result="failed"} 1');
    expect(logs.find((l) => l.msg === "email failed")).toMatchObject({ level: "warn", template: "confirm-email" });
    await m.close();
  });

  test("a server that never answers holds the caller only for sendTimeoutMs", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const { mailer: m, logs } = mailer({ smtpUrl: `smtp://127.0.0.1:${silent.port}`, sendTimeoutMs: 200 });
    const started = performance.now();
    await m.send({ template: "two-factor", to: "x@example.com", vars: { token: "ABCDE-23456" } });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(logs.some((l) => l.msg === "email still sending in the background")).toBe(true);
    await m.close();
    silent.stop(true);
  });

  test("no SMTP server: dev mode logs the message with its token; production warns at start and logs no token", async () => {
    const dev = mailer(undefined, true);
    await dev.mailer.send({ template: "reset-password", to: "a@example.com", vars: { token: "ABCDE-23456", handle: "a.test" } });
    expect(dev.logs.find((l) => l.msg === "email not sent (no SMTP server configured)")).toMatchObject({ level: "info", vars: { token: "ABCDE-23456" } });
    expect(await dev.metric()).toContain('result="unconfigured"} 1');

    const prod = mailer(undefined, false);
    expect(prod.logs[0]).toMatchObject({ level: "warn" });
    await prod.mailer.send({ template: "reset-password", to: "a@example.com", vars: { token: "ABCDE-23456", handle: "a.test" } });
    expect(JSON.stringify(prod.logs)).not.toContain("ABCDE-23456");
  });
});
