// Example Plinth plugin: POSTs each new sign-up to a webhook, signed the Standard Webhooks way.
// Copy it into <dataDir>/plugins/ (or ./plugins/) and configure it in plinth.yaml:
//
//   plugins:
//     config:
//       signup-webhook:
//         url: https://hooks.example.com/new-user
//         secret: whsec_<base64 key>
//
// It uses nothing but the runtime (node:crypto, fetch), so it loads from the compiled binary too.
// GET /plugins/v1/signup-webhook/stats answers how many deliveries were sent and failed.
import { createHmac, randomUUID } from "node:crypto";

let url = "";
let key: Buffer | null = null;
let log: { info(m: string, f?: object): void; warn(m: string, f?: object): void } = console;
const counts = { sent: 0, failed: 0 };

export default {
  name: "signup-webhook",
  version: "1.0.0",
  init(ctx: { config: Record<string, unknown>; log: typeof log }) {
    url = String(ctx.config.url ?? process.env.SIGNUP_WEBHOOK_URL ?? "");
    const secret = String(ctx.config.secret ?? process.env.SIGNUP_WEBHOOK_SECRET ?? "");
    if (!url) throw new Error("plugins.config.signup-webhook.url is not set");
    if (!/^whsec_/.test(secret)) throw new Error("plugins.config.signup-webhook.secret must be whsec_<base64>");
    key = Buffer.from(secret.slice("whsec_".length), "base64");
    log = ctx.log;
  },
  start() {
    log.info("signup-webhook: delivering new sign-ups", { to: new URL(url).origin });
  },
  stop() {
    log.info("signup-webhook: stopped", counts);
  },
  hooks: {
    // Runs after the answer was sent; a failure is logged and counted by the host, never seen by the user.
    "auth.after_sign_up": {
      policy: "continue",
      timeout: 5000,
      async handler(payload: { user?: { id?: string; email?: string; created_at?: string } }) {
        const body = JSON.stringify({ type: "user.created", timestamp: new Date().toISOString(), data: { id: payload.user?.id, email: payload.user?.email } });
        const id = `msg_${randomUUID()}`;
        const ts = Math.floor(Date.now() / 1000);
        const signature = createHmac("sha256", key!).update(`${id}.${ts}.${body}`).digest("base64");
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": `v1,${signature}` },
          body,
        });
        if (!res.ok) {
          counts.failed++;
          throw new Error(`webhook answered ${res.status}`);
        }
        counts.sent++;
      },
    },
  },
  routes(req: Request) {
    if (new URL(req.url).pathname === "/stats") return Response.json(counts);
    return new Response("not found", { status: 404 });
  },
};
