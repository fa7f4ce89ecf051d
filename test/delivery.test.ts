// The delivery layer: mail through a real SMTP server (the sink), SMS providers against a fake of
// their HTTP APIs, templates, phone numbers and config validation. No database.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTransport } from "nodemailer";
import { ConfigError } from "../src/config/load.ts";
import { configSchema, type Config, type ConfigInput } from "../src/config/schema.ts";
import {
  DeliveryError,
  EMAIL_KINDS,
  createMailer,
  createSmsSender,
  normalisePhone,
  renderEmail,
  renderSms,
  signWebhookBody,
  validateSms,
  validateTemplates,
  type EmailVars,
  type SmsSender,
} from "../src/delivery/index.ts";
import { PlinthError } from "../src/errors.ts";
import { parseMail } from "./support/mime.ts";
import { startSmsSink, SINK_DEFAULTS, type SmsSink } from "./support/sms-sink.ts";
import { startSmtpSink, type SmtpSink } from "./support/smtp-sink.ts";

const config = (input: ConfigInput = {}): Config => configSchema.parse(input);

const vars: EmailVars = {
  siteUrl: "https://app.example.com",
  actionLink: "http://127.0.0.1:8787/auth/v1/verify?token=abc123&type=signup&redirect_to=https://app.example.com",
  code: "123456",
  email: "ama@example.com",
};

const dir = mkdtempSync(join(tmpdir(), "plinth-delivery-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function file(content: string): string {
  const path = join(dir, `t${++fileCount}`);
  writeFileSync(path, content);
  return path;
}

/** The rejection of `promise`, which must reject. */
async function failureOf(promise: Promise<unknown>): Promise<PlinthError> {
  const e = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PlinthError);
  return e as PlinthError;
}

describe("normalisePhone", () => {
  test.each([
    ["+233 24 123 4567", undefined, "+233241234567"],
    ["+233241234567", undefined, "+233241234567"],
    ["233241234567", undefined, "+233241234567"], // country code without "+"
    ["233241234567", "GH", "+233241234567"],
    ["0241234567", "GH", "+233241234567"], // Ghanaian local form
    ["024 123 4567", "gh", "+233241234567"],
    ["00233241234567", undefined, "+233241234567"], // international call prefix
    ["+233 (0)24 123 4567", undefined, "+233241234567"],
    ["(202) 555-0123", "US", "+12025550123"],
    ["+44 7911 123456", "GH", "+447911123456"], // explicit "+" beats the default country
    ["+234 803 123 4567", undefined, "+2348031234567"],
  ])("%p (%p) → %p", (input, country, expected) => {
    expect(normalisePhone(input, country)).toBe(expected);
  });

  test.each([
    ["0241234567", undefined], // local form without a default country
    ["0241234567", "XX"], // unknown default country
    ["+2332412345", undefined], // too short
    ["+233241234567890", undefined], // too long
    ["1".repeat(40), undefined],
    ["abc", undefined],
    ["+233 24 ABC 4567", undefined],
    ["call +233241234567", undefined], // no extraction from text
    ["+233 24 123 4567 ext 12", undefined],
    ["", undefined],
    ["+", undefined],
    ["12", "GH"],
  ])("%p (%p) → null", (input, country) => {
    expect(normalisePhone(input, country)).toBeNull();
  });
});

describe("renderEmail", () => {
  test.each(EMAIL_KINDS)("built-in %s carries the link and the code in both parts", (kind) => {
    const mail = renderEmail(kind, { ...vars, newEmail: "kofi@example.com" }, config());
    expect(mail.subject.length).toBeGreaterThan(0);
    expect(mail.text).toContain(vars.actionLink);
    expect(mail.text).toContain("Or enter this code: 123456");
    // In HTML the link is attribute-escaped: & → &amp;
    expect(mail.html).toContain(`href="${vars.actionLink.replaceAll("&", "&amp;")}"`);
    expect(mail.html).toContain("123456");
    expect(mail.text).not.toContain("{{");
    expect(mail.html).not.toContain("{{");
  });

  test("confirmation subject; emailChange names both addresses", () => {
    expect(renderEmail("confirmation", vars, config()).subject).toBe("Confirm your email");
    const change = renderEmail("emailChange", { ...vars, newEmail: "kofi@example.com" }, config());
    expect(change.text).toContain("ama@example.com");
    expect(change.text).toContain("kofi@example.com");
  });

  test("values are HTML-escaped in HTML and verbatim in text", () => {
    const evil = { ...vars, email: `<script>alert("x")</script>'@example.com` };
    const mail = renderEmail("magicLink", evil, config());
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;@example.com");
    expect(mail.text).toContain(evil.email);
  });

  test("override files and subject use GoTrue's placeholders and the short aliases", () => {
    const html = file(`<a href="{{ .ConfirmationURL }}">go</a> {{.Token}} {{ .Email }} {{ .NewEmail }} {{ .SiteURL }} {{ .RedirectTo }} {{code}} {{ link }}`);
    const text = file("Code: {{ .Token }} / {{code}}\nLink: {{link}}\nTo: {{ .RedirectTo }}");
    const cfg = config({ auth: { templates: { recovery: { subject: "Reset for {{ .Email }}", html, text } } } });
    const mail = renderEmail("recovery", { ...vars, newEmail: "n@example.com" }, cfg);
    expect(mail.subject).toBe("Reset for ama@example.com");
    const link = vars.actionLink.replaceAll("&", "&amp;");
    expect(mail.html).toBe(`<a href="${link}">go</a> 123456 ama@example.com n@example.com https://app.example.com https://app.example.com 123456 ${link}`);
    expect(mail.text).toBe(`Code: 123456 / 123456\nLink: ${vars.actionLink}\nTo: https://app.example.com`);
    // Other kinds keep the built-ins.
    expect(renderEmail("confirmation", vars, cfg).subject).toBe("Confirm your email");
  });

  test("an override file is read at render time, so edits apply without a restart", () => {
    const text = file("first {{code}}");
    const cfg = config({ auth: { templates: { invite: { text } } } });
    expect(renderEmail("invite", vars, cfg).text).toBe("first 123456");
    writeFileSync(text, "second {{code}}");
    expect(renderEmail("invite", vars, cfg).text).toBe("second 123456");
  });

  test("a template needing a value the caller did not give fails as email_send_failed", async () => {
    const cfg = config({ auth: { templates: { confirmation: { text: file("{{ .TokenHash }}") } } } });
    const e = await failureOf(Promise.resolve().then(() => renderEmail("confirmation", vars, cfg)));
    expect(e.code).toBe("email_send_failed");
    expect(renderEmail("confirmation", { ...vars, tokenHash: "h4sh" }, cfg).text).toBe("h4sh");
  });

  test("a subject cannot smuggle a header line", () => {
    const cfg = config({ auth: { templates: { invite: { subject: "Hi {{ .Email }}" } } } });
    expect(renderEmail("invite", { ...vars, email: "a@b.c\r\nBcc: x@y.z" }, cfg).subject).toBe("Hi a@b.c Bcc: x@y.z");
  });
});

describe("renderSms", () => {
  test("fills {{code}} and GoTrue's {{ .Code }}", () => {
    expect(renderSms("654321", config())).toBe("Your code is 654321");
    expect(renderSms("654321", config({ auth: { smsTemplate: "{{ .Code }} is your Acme code ({{code}})" } }))).toBe("654321 is your Acme code (654321)");
    expect(renderSms("$&1", config())).toBe("Your code is $&1");
  });
});

describe("validateTemplates", () => {
  test("no overrides, no problems", () => {
    expect(validateTemplates(config())).toEqual([]);
  });

  test("reports missing files, empty files and placeholders Plinth cannot fill", () => {
    const problems = validateTemplates(
      config({
        auth: {
          templates: {
            confirmation: { html: join(dir, "does-not-exist.html") },
            recovery: { text: file("  \n") },
            invite: { html: file("{{ .ConfirmationURL }} {{ .Data.name }} {{ if .Email }}x{{ end }} {{ .Tokn }} {{constructor}}") },
            magicLink: { subject: "{{ .SiteName }}" },
          },
        },
      }),
    );
    expect(problems).toHaveLength(8);
    expect(problems).toContainEqual(expect.stringMatching(/^auth\.templates\.confirmation\.html: cannot read .*does-not-exist\.html \(ENOENT\)$/));
    expect(problems).toContainEqual(expect.stringMatching(/^auth\.templates\.recovery\.text: .* is empty$/));
    const invite = problems.filter((p) => p.startsWith("auth.templates.invite.html: unknown placeholder"));
    expect(invite).toHaveLength(5);
    for (const bad of ["{{ .Data.name }}", "{{ if .Email }}", "{{ end }}", "{{ .Tokn }}", "{{constructor}}"]) {
      expect(invite.some((p) => p.includes(`placeholder ${bad} (known:`))).toBe(true);
    }
    expect(problems).toContainEqual(expect.stringMatching(/^auth\.templates\.magicLink\.subject: unknown placeholder \{\{ \.SiteName \}\}/));
  });

  test("createMailer refuses a broken template at startup", () => {
    const cfg = config({ smtp: { host: "127.0.0.1" }, auth: { templates: { recovery: { html: join(dir, "gone.html") } } } });
    expect(() => createMailer(cfg)).toThrow(ConfigError);
  });
});

describe("parseMail (the SMTP sink's MIME reader)", () => {
  const composer = createTransport({ streamTransport: true, buffer: true });
  test.each(["quoted-printable", "base64"] as const)("reads nodemailer's %s output", async (textEncoding) => {
    const subject = "Grüße 🎉 — ".repeat(10).trim();
    const text = `héllo ${"x".repeat(120)} = 123456\nline two`;
    const html = `<p>héllo &amp; <a href="https://x.test/?a=1&amp;b=2">${"y".repeat(100)}</a></p>`;
    const info = await composer.sendMail({ from: "a@b.test", to: "c@d.test", subject, text, html, textEncoding });
    const parsed = parseMail(info.message as Buffer);
    expect(parsed.subject).toBe(subject);
    // Quoted-printable turns line ends into CRLF, base64 carries the bytes as given.
    expect(parsed.text.replaceAll("\r\n", "\n")).toBe(text);
    expect(parsed.html).toBe(html);
    expect(parsed.headers.to).toBe("c@d.test");
  });

  test("reads an ASCII text-only message", async () => {
    const info = await composer.sendMail({ from: "a@b.test", to: "c@d.test", subject: "Plain", text: "just text" });
    expect(parseMail(info.message as Buffer)).toMatchObject({ subject: "Plain", text: "just text", html: "" });
  });
});

describe("mail through SMTP", () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(() => sink.stop());
  beforeEach(() => sink.clear());

  const smtp = (extra: NonNullable<ConfigInput["smtp"]> = {}) => config({ smtp: { host: "127.0.0.1", port: sink.port, ...extra } });

  test("no smtp.host, no mailer", () => {
    expect(createMailer(config())).toBeNull();
  });

  test("a rendered auth mail arrives with subject, recipient, link and code", async () => {
    const cfg = smtp();
    const mailer = createMailer(cfg)!;
    await mailer.send({ to: "ama@example.com", ...renderEmail("confirmation", vars, cfg) });
    const got = await sink.waitFor((m) => m.to.includes("ama@example.com"));
    expect(got.subject).toBe("Confirm your email");
    expect(got.to).toEqual(["ama@example.com"]);
    expect(got.from).toBe("no-reply@localhost");
    expect(got.headers.from).toBe("Plinth <no-reply@localhost>");
    expect(got.user).toBeNull(); // no smtp.user, no AUTH
    expect(got.text).toContain(vars.actionLink);
    expect(got.text).toContain("123456");
    expect(got.html).toContain(vars.actionLink.replaceAll("&", "&amp;"));
    expect(got.html).toContain("123456");
  });

  test("custom from, login, override templates and escaping survive the wire", async () => {
    const html = file(`<p>Hi {{ .Email }}</p><a href="{{ .ConfirmationURL }}">reset</a> <b>{{ .Token }}</b>`);
    const cfg = smtp({ user: "mailer", pass: "s3cret", from: "Acme <auth@acme.test>" });
    const withTemplates = configSchema.parse({
      ...cfg,
      auth: { ...cfg.auth, templates: { recovery: { subject: "Acme: reset", html } } },
    });
    await createMailer(withTemplates)!.send({
      to: "kofi@example.com",
      ...renderEmail("recovery", { ...vars, email: "<kofi>@example.com" }, withTemplates),
    });
    const got = await sink.waitFor((m) => m.subject === "Acme: reset");
    expect(got.user).toBe("mailer");
    expect(got.from).toBe("auth@acme.test");
    expect(got.html).toBe(`<p>Hi &lt;kofi&gt;@example.com</p><a href="${vars.actionLink.replaceAll("&", "&amp;")}">reset</a> <b>123456</b>`);
    expect(got.text).toContain("Reset your password"); // no text override: the built-in text part
  });

  test("unicode subjects and bodies are encoded and decoded intact", async () => {
    const mailer = createMailer(smtp())!;
    await mailer.send({ to: "efua@example.com", subject: "Wɔdɔ wo — 🎉", text: "Akwaaba ✓", html: "<p>Akwaaba ✓</p>" });
    const got = await sink.waitFor((m) => m.to.includes("efua@example.com"));
    expect(got).toMatchObject({ subject: "Wɔdɔ wo — 🎉", text: "Akwaaba ✓", html: "<p>Akwaaba ✓</p>" });
  });

  test("a recipient list or display name is refused before anything is sent", async () => {
    const mailer = createMailer(smtp())!;
    for (const to of ["a@example.com, b@example.com", "Eve <eve@example.com>", "a@example.com\r\nBcc: x@y.z", "nobody"]) {
      const e = await failureOf(mailer.send({ to, subject: "s", text: "t", html: "h" }));
      expect([e.status, e.code]).toEqual([400, "validation_failed"]);
    }
    expect(sink.messages).toHaveLength(0);
  });

  test("an unreachable server fails as email_send_failed (502)", async () => {
    const closed = await unusedPort();
    const mailer = createMailer(config({ smtp: { host: "127.0.0.1", port: closed, pass: "s3cret", user: "u" } }))!;
    const e = await failureOf(mailer.send({ to: "a@example.com", subject: "s", text: "t", html: "h" }));
    expect(e).toBeInstanceOf(DeliveryError);
    expect([e.status, e.code, e.message]).toEqual([502, "email_send_failed", "Error sending email"]);
    expect(e.cause).toBeInstanceOf(Error); // for the caller's log
  });

  test("a server that never answers times out", async () => {
    const silent = await silentServer();
    try {
      const mailer = createMailer(config({ smtp: { host: "127.0.0.1", port: silent.port } }), { timeoutMs: 300 })!;
      const started = Date.now();
      const e = await failureOf(mailer.send({ to: "a@example.com", subject: "s", text: "t", html: "h" }));
      expect(e.code).toBe("email_send_failed");
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await silent.stop();
    }
  });
});

describe("SMS providers", () => {
  let sink: SmsSink;
  beforeAll(async () => {
    sink = await startSmsSink();
  });
  afterAll(() => sink.stop());
  beforeEach(() => sink.clear());

  const sender = (sms: NonNullable<ConfigInput["sms"]>, timeoutMs?: number): SmsSender => createSmsSender(config({ sms }), { timeoutMs })!;
  const msg = { to: "+233241234567", body: "Your code is 123456" };

  test("provider none: no sender, nothing to validate", () => {
    expect(createSmsSender(config())).toBeNull();
    expect(validateSms(config())).toEqual([]);
  });

  test("Arkesel: v2 endpoint, api-key header, recipients without +", async () => {
    const s = sender(sink.config("arkesel"));
    expect(s.name).toBe("arkesel");
    const result = await s.send(msg);
    expect(result.messageId).toMatch(/^[0-9a-f-]{36}$/);
    const got = sink.messages[0]!;
    expect(got.provider).toBe("arkesel");
    expect(got.headers["api-key"]).toBe(SINK_DEFAULTS.arkeselApiKey);
    expect(got.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(got.body)).toEqual({ sender: "Plinth", message: "Your code is 123456", recipients: ["233241234567"] });
  });

  test("Arkesel base URL with a trailing slash", async () => {
    const cfg = sink.config("arkesel");
    await sender({ ...cfg, arkesel: { ...cfg.arkesel, url: `${sink.url}/` } }).send(msg);
    expect(sink.messages).toHaveLength(1);
  });

  test("Twilio: Messages.json with basic auth and a form body", async () => {
    const result = await sender(sink.config("twilio")).send(msg);
    expect(result.messageId).toMatch(/^SM[0-9a-f]{32}$/);
    const got = sink.messages[0]!;
    expect(got.provider).toBe("twilio");
    const basic = Buffer.from(`${SINK_DEFAULTS.twilioAccountSid}:${SINK_DEFAULTS.twilioAuthToken}`).toString("base64");
    expect(got.headers.authorization).toBe(`Basic ${basic}`);
    expect(got.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(got.body))).toEqual({
      To: "+233241234567",
      Body: "Your code is 123456",
      From: "+15005550006",
    });
  });

  test("Twilio: a Messaging Service SID goes in MessagingServiceSid", async () => {
    const cfg = sink.config("twilio");
    const service = `MG${"a".repeat(32)}`;
    await sender({ ...cfg, twilio: { ...cfg.twilio, from: service } }).send(msg);
    const form = new URLSearchParams(sink.messages[0]!.body);
    expect(form.get("MessagingServiceSid")).toBe(service);
    expect(form.has("From")).toBe(false);
  });

  test("webhook: JSON {to, message} with a verifiable HMAC signature", async () => {
    const result = await sender(sink.config("webhook")).send(msg);
    expect(result.messageId).toBeString();
    const got = sink.messages[0]!;
    expect(JSON.parse(got.body)).toEqual({ to: "+233241234567", message: "Your code is 123456" });
    const expected = `sha256=${createHmac("sha256", SINK_DEFAULTS.webhookSecret).update(got.body).digest("hex")}`;
    expect(got.headers["x-plinth-signature"]).toBe(expected);
    expect(signWebhookBody(got.body, SINK_DEFAULTS.webhookSecret)).toBe(expected);
  });

  test("webhook without a secret sends no signature", async () => {
    await sender({ provider: "webhook", webhook: { url: `${sink.url}/webhook` } }).send(msg);
    expect(sink.messages[0]!.headers["x-plinth-signature"]).toBeUndefined();
  });

  const secrets = [SINK_DEFAULTS.arkeselApiKey, SINK_DEFAULTS.twilioAuthToken, SINK_DEFAULTS.webhookSecret, "wrong-key"];
  /** The provider failure as clients would see it: stable code, no secret, no provider body. */
  async function expectSmsFailure(promise: Promise<unknown>): Promise<PlinthError> {
    const e = await failureOf(promise);
    expect(e).toBeInstanceOf(DeliveryError);
    expect([e.status, e.code, e.message, e.details]).toEqual([502, "sms_send_failed", "Error sending SMS", null]);
    const visible = JSON.stringify({ message: e.message, details: e.details, hint: e.hint });
    for (const secret of secrets) expect(visible).not.toContain(secret);
    // The cause is for logs; it must not quote secrets either.
    const cause = String((e.cause as Error).message);
    for (const secret of secrets) expect(cause).not.toContain(secret);
    return e;
  }

  test.each(["arkesel", "twilio", "webhook"] as const)("%s: HTTP 500 → sms_send_failed", async (provider) => {
    sink.failNext(500);
    const e = await expectSmsFailure(sender(sink.config(provider)).send(msg));
    expect((e.cause as Error).message).toStartWith(`${provider}: HTTP 500`);
    expect(sink.messages).toHaveLength(0);
  });

  test("Arkesel: HTTP 200 with status other than success is a failure", async () => {
    sink.failNext(200);
    const e = await expectSmsFailure(sender(sink.config("arkesel")).send(msg));
    expect((e.cause as Error).message).toBe("arkesel: HTTP 200 (status=error, message=Insufficient balance)");
  });

  test("Twilio: a 2xx answer without sid is a failure", async () => {
    sink.failNext(201);
    await expectSmsFailure(sender(sink.config("twilio")).send(msg));
  });

  test("wrong credentials → sms_send_failed without the key in the message", async () => {
    const ark = sink.config("arkesel");
    await expectSmsFailure(sender({ ...ark, arkesel: { ...ark.arkesel, apiKey: "wrong-key" } }).send(msg));
    const tw = sink.config("twilio");
    const e = await expectSmsFailure(sender({ ...tw, twilio: { ...tw.twilio, authToken: "wrong-key" } }).send(msg));
    expect((e.cause as Error).message).toBe("twilio: HTTP 401 (code=20003, message=Authenticate)");
  });

  test.each(["arkesel", "twilio", "webhook"] as const)("%s: no answer within the timeout", async (provider) => {
    sink.delayNext(1500);
    const started = Date.now();
    const e = await expectSmsFailure(sender(sink.config(provider), 200).send(msg));
    expect((e.cause as Error).message).toBe(`${provider}: no answer within 200 ms`);
    expect(Date.now() - started).toBeLessThan(1400);
  });

  test("an unreachable provider → sms_send_failed", async () => {
    const port = await unusedPort();
    const cfg = sink.config("arkesel");
    await expectSmsFailure(sender({ ...cfg, arkesel: { ...cfg.arkesel, url: `http://127.0.0.1:${port}` } }).send(msg));
  });

  test("a redirect is not followed (it would replay the api-key)", async () => {
    const redirecting = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(null, { status: 307, headers: { location: `${sink.url}/api/v2/sms/send` } }),
    });
    try {
      const cfg = sink.config("arkesel");
      const s = sender({ ...cfg, arkesel: { ...cfg.arkesel, url: `http://127.0.0.1:${redirecting.port}` } });
      const e = await expectSmsFailure(s.send(msg));
      expect((e.cause as Error).message).toStartWith("arkesel: HTTP 307");
      expect(sink.messages).toHaveLength(0);
    } finally {
      await redirecting.stop(true);
    }
  });

  test("a number that is not E.164 is a 400 before any request", async () => {
    const s = sender(sink.config("arkesel"));
    for (const to of ["0241234567", "233241234567", "+0241234567", "+233 24 123 4567", ""]) {
      const e = await failureOf(s.send({ to, body: "x" }));
      expect([e.status, e.code]).toEqual([400, "validation_failed"]);
    }
    expect(sink.messages).toHaveLength(0);
  });
});

describe("validateSms", () => {
  const problems = (sms: NonNullable<ConfigInput["sms"]>, auth: ConfigInput["auth"] = {}) => validateSms(config({ sms, auth }));

  test("each provider names its missing settings", () => {
    expect(problems({ provider: "arkesel" })).toEqual([
      "sms.arkesel.apiKey: required when sms.provider is arkesel",
      "sms.arkesel.sender: required when sms.provider is arkesel",
    ]);
    expect(problems({ provider: "twilio", twilio: { accountSid: "AC1" } })).toEqual([
      "sms.twilio.authToken: required when sms.provider is twilio",
      "sms.twilio.from: required when sms.provider is twilio",
    ]);
    expect(problems({ provider: "webhook" })).toEqual(["sms.webhook.url: required when sms.provider is webhook"]);
  });

  test("empty strings count as missing", () => {
    expect(problems({ provider: "arkesel", arkesel: { apiKey: "", sender: "Acme" } })).toEqual(["sms.arkesel.apiKey: required when sms.provider is arkesel"]);
  });

  test("sender ID length, URL scheme, default country and the SMS template", () => {
    expect(
      problems(
        { provider: "arkesel", arkesel: { apiKey: "k", sender: "TwelveChars!", url: "ftp://sms.example.com" }, defaultCountry: "XX" },
        { smsTemplate: "Welcome!" },
      ),
    ).toEqual([
      "sms.arkesel.url: must be an http(s) URL",
      "sms.arkesel.sender: at most 11 characters (got 12)",
      'sms.defaultCountry: unknown country code "XX" (ISO 3166, e.g. "GH")',
      "auth.smsTemplate: must contain {{code}}, or the SMS would not carry the code",
    ]);
  });

  test("a complete configuration has no problems; createSmsSender throws ConfigError otherwise", () => {
    expect(problems({ provider: "webhook", webhook: { url: "https://relay.example.com/sms" }, defaultCountry: "GH" })).toEqual([]);
    expect(problems({ provider: "arkesel", arkesel: { apiKey: "k", sender: "Acme" } }, { smsTemplate: "{{ .Code }}" })).toEqual([]);
    expect(() => createSmsSender(config({ sms: { provider: "twilio" } }))).toThrow(ConfigError);
  });
});

/** A port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never says a word (no SMTP greeting). */
async function silentServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
