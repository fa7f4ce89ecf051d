// A fake of the three SMS providers on 127.0.0.1 for tests: the Arkesel v2 send endpoint, Twilio's
// Messages endpoint and a plain webhook, answering the way the real services do. `config()` gives
// the `sms` settings that point Plinth at it.
import type { ConfigInput } from "../../src/config/schema.ts";
import { waitForMatch } from "./sink-wait.ts";

export type SinkProvider = "arkesel" | "twilio" | "webhook";

export interface SinkSms {
  provider: SinkProvider;
  /** As the provider received them: Arkesel without "+", Twilio and webhook in E.164. */
  to: string[];
  message: string;
  /** Arkesel `sender` / Twilio `From` (or MessagingServiceSid); undefined for the webhook. */
  sender?: string;
  /** Lower-cased request headers. */
  headers: Record<string, string>;
  /** The raw request body, e.g. to check the webhook signature. */
  body: string;
}

export interface SmsSinkOptions {
  arkeselApiKey?: string;
  twilioAccountSid?: string;
  twilioAuthToken?: string;
  /** Webhook signature secret handed out by config(); the sink records, tests verify. */
  webhookSecret?: string;
}

export interface SmsSink {
  /** Base URL, e.g. http://127.0.0.1:41234 (webhook at `${url}/webhook`). */
  url: string;
  messages: SinkSms[];
  waitFor(pred: (m: SinkSms) => boolean, timeoutMs?: number): Promise<SinkSms>;
  clear(): void;
  /**
   * The next request fails with `status` (default 500) and is not recorded. A 2xx status gives
   * a provider-level refusal instead: Arkesel `{"status":"error"}`, Twilio a body without `sid`.
   */
  failNext(status?: number): void;
  /** The next request is answered only after `ms` (to exercise client timeouts). */
  delayNext(ms: number): void;
  /** `sms` settings that send to this sink through `provider`. */
  config(provider: SinkProvider): NonNullable<ConfigInput["sms"]>;
  stop(): Promise<void>;
}

export const SINK_DEFAULTS = {
  arkeselApiKey: "test-arkesel-api-key",
  twilioAccountSid: "AC00000000000000000000000000000000",
  twilioAuthToken: "test-twilio-auth-token",
  webhookSecret: "test-webhook-secret",
} as const;

export async function startSmsSink(options: SmsSinkOptions = {}): Promise<SmsSink> {
  const creds = { ...SINK_DEFAULTS, ...options };
  const messages: SinkSms[] = [];
  const waiters = new Set<(m: SinkSms) => void>();
  const failures: number[] = [];
  const delays: number[] = [];

  const record = (m: SinkSms) => {
    messages.push(m);
    for (const notify of [...waiters]) notify(m);
  };

  async function handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const headers = Object.fromEntries([...req.headers].map(([k, v]) => [k.toLowerCase(), v]));
    const body = await req.text();
    const fail = failures.shift();
    // After reading the body: a client that gives up meanwhile must not make req.text() throw.
    const delay = delays.shift();
    if (delay !== undefined) await Bun.sleep(delay);

    if (req.method === "POST" && path === "/api/v2/sms/send") {
      if (fail !== undefined) return failAs("arkesel", fail);
      if (headers["api-key"] !== creds.arkeselApiKey) {
        return Response.json({ status: "error", message: "Invalid API key" }, { status: 401 });
      }
      const json = parseJson(body) as { sender?: unknown; message?: unknown; recipients?: unknown } | null;
      const recipients = json?.recipients;
      if (
        typeof json?.sender !== "string" ||
        typeof json.message !== "string" ||
        !Array.isArray(recipients) ||
        !recipients.every((r): r is string => typeof r === "string" && /^\d{8,15}$/.test(r))
      ) {
        return Response.json({ status: "error", message: "Invalid request" }, { status: 422 });
      }
      record({ provider: "arkesel", to: recipients, message: json.message, sender: json.sender, headers, body });
      return Response.json({
        status: "success",
        data: recipients.map((recipient) => ({ recipient, id: crypto.randomUUID() })),
      });
    }

    const twilio = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path);
    if (req.method === "POST" && twilio) {
      if (fail !== undefined) return failAs("twilio", fail);
      const expected = `Basic ${btoa(`${creds.twilioAccountSid}:${creds.twilioAuthToken}`)}`;
      if (twilio[1] !== creds.twilioAccountSid || headers.authorization !== expected) {
        return Response.json({ code: 20003, message: "Authenticate", status: 401 }, { status: 401 });
      }
      const form = new URLSearchParams(body);
      const to = form.get("To");
      const text = form.get("Body");
      const sender = form.get("From") ?? form.get("MessagingServiceSid");
      if (!to || text === null || !sender) {
        return Response.json({ code: 21604, message: "A 'To' phone number is required.", status: 400 }, { status: 400 });
      }
      const sid = `SM${crypto.randomUUID().replaceAll("-", "")}`;
      record({ provider: "twilio", to: [to], message: text, sender, headers, body });
      return Response.json({ sid, status: "queued", to, body: text }, { status: 201 });
    }

    if (req.method === "POST" && path === "/webhook") {
      if (fail !== undefined) return failAs("webhook", fail);
      const json = parseJson(body) as { to?: unknown; message?: unknown } | null;
      if (typeof json?.to !== "string" || typeof json.message !== "string") {
        return Response.json({ error: "to and message required" }, { status: 400 });
      }
      record({ provider: "webhook", to: [json.to], message: json.message, headers, body });
      return Response.json({ id: crypto.randomUUID() });
    }

    return new Response("not found", { status: 404 });
  }

  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });
  const url = `http://127.0.0.1:${server.port}`;

  return {
    url,
    messages,
    waitFor(pred, timeoutMs = 5000) {
      return waitForMatch(messages, waiters, pred, timeoutMs, "SMS");
    },
    clear() {
      messages.length = 0;
    },
    failNext(status = 500) {
      failures.push(status);
    },
    delayNext(ms) {
      delays.push(ms);
    },
    config(provider) {
      switch (provider) {
        case "arkesel":
          return { provider, arkesel: { url, apiKey: creds.arkeselApiKey, sender: "Plinth" } };
        case "twilio":
          return {
            provider,
            twilio: { url, accountSid: creds.twilioAccountSid, authToken: creds.twilioAuthToken, from: "+15005550006" },
          };
        case "webhook":
          return { provider, webhook: { url: `${url}/webhook`, secret: creds.webhookSecret } };
      }
    },
    async stop() {
      await server.stop(true);
    },
  };
}

function failAs(provider: SinkProvider, status: number): Response {
  const soft = status >= 200 && status < 300;
  switch (provider) {
    case "arkesel":
      return Response.json(soft ? { status: "error", message: "Insufficient balance" } : { status: "error", message: "Server error" }, { status });
    case "twilio":
      return Response.json(soft ? { status: "failed" } : { code: 20500, message: "Internal Server Error", status }, { status });
    case "webhook":
      return Response.json({ error: "simulated failure" }, { status });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
