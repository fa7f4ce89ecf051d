// Auth hooks with Supabase's names and payloads (custom_access_token, send_email, send_sms,
// password_verification_attempt, mfa_verification_attempt). Each is either
//   - a Postgres function, pg-functions://postgres/<schema>/<function>, called with the payload as one
//     jsonb argument and answering jsonb; run in its own transaction with a local statement_timeout;
//   - an HTTPS endpoint, POSTed the payload signed the Standard Webhooks way (webhook-id,
//     webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>), answering JSON.
// A hook that times out, fails, or answers {"error": {...}} fails the request with a clear error
// (422 hook_timeout / hook_failed / hook_bad_response — not 5xx, which supabase-js turns into a
// code-less retryable error — or the hook's own http_code and message), never a stack trace.
//
// Traps: http:// is accepted only to loopback addresses (a hook sees tokens' claims and e-mail
// contents). The function's schema and name are quoted by the one identifier quoter.
import { signWebhook } from "../../admin/security/alerts.ts";
import { ident } from "../../admin/meta/ident.ts";
import type { Config } from "../../config/schema.ts";
import type { HookName } from "../../config/auth-extensions.ts";
import type { Database } from "../../db/pool.ts";
import { PlinthError } from "../../errors.ts";
import type { Logger } from "../../log.ts";

export const HookErrors = {
  timeout: (name: string) => new PlinthError(422, "hook_timeout", `The ${name} hook did not answer in time`),
  failed: (name: string, why: string) => new PlinthError(422, "hook_failed", `The ${name} hook failed: ${why}`),
  refused: (name: string, status: number, message: string) =>
    new PlinthError(status >= 400 && status < 500 ? status : 400, "hook_refused", `${message || `Refused by the ${name} hook`}`.slice(0, 500)),
  badAnswer: (name: string, why: string) => new PlinthError(422, "hook_bad_response", `The ${name} hook answered an unusable response: ${why}`),
};

/** Supabase's defaults: functions 2 s, HTTP 5 s. */
const PG_TIMEOUT_MS = 2000;
const HTTP_TIMEOUT_MS = 5000;
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

export type HookRunner = {
  enabled(name: HookName): boolean;
  run(name: HookName, payload: Record<string, unknown>): Promise<Record<string, unknown>>;
};

export function createHookRunner(config: Config, db: Database, log: Logger): HookRunner {
  const hooks = config.auth.hook;
  return {
    enabled: (name) => hooks[name].enabled && !!hooks[name].uri,
    async run(name, payload) {
      const h = hooks[name];
      const uri = h.uri!;
      const started = performance.now();
      let out: unknown;
      if (uri.startsWith("pg-functions://")) {
        const [, schema, fn] = uri.slice("pg-functions://".length).split("/");
        if (!schema || !fn) throw HookErrors.failed(name, "the uri is not pg-functions://postgres/<schema>/<function>");
        const timeout = h.timeout ?? PG_TIMEOUT_MS;
        try {
          out = await db.sql.begin(async (tx) => {
            await tx`select set_config('statement_timeout', ${String(timeout)}, true)`;
            // ident() quotes both names; the payload is a bind parameter.
            const [row] = await tx.unsafe(`select ${ident(schema)}.${ident(fn)}($1::jsonb) as out`, [payload as never]);
            return (row as { out: unknown } | undefined)?.out;
          });
        } catch (err) {
          const code = (err as { code?: string }).code;
          log.warn("auth: hook failed", { hook: name, ms: Math.round(performance.now() - started), code });
          if (code === "57014") throw HookErrors.timeout(name);
          throw HookErrors.failed(name, code === "42883" ? "the function does not exist" : `the function raised an error${code ? ` (${code})` : ""}`);
        }
      } else {
        const url = new URL(uri);
        if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.test(url.hostname))) throw HookErrors.failed(name, "the uri must be https");
        const secret = h.secrets[0]?.replace(/^v1,/, "");
        if (!secret) throw HookErrors.failed(name, "no secret is configured for the HTTP hook");
        const id = `msg_${crypto.randomUUID()}`;
        const ts = Math.floor(Date.now() / 1000);
        const body = JSON.stringify(payload);
        let res: Response;
        try {
          res = await fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "webhook-id": id,
              "webhook-timestamp": String(ts),
              "webhook-signature": signWebhook(secret, id, ts, body),
            },
            body,
            redirect: "manual",
            signal: AbortSignal.timeout(h.timeout ?? HTTP_TIMEOUT_MS),
          });
        } catch (err) {
          log.warn("auth: hook failed", { hook: name, ms: Math.round(performance.now() - started), error: (err as Error).name });
          if ((err as Error).name === "TimeoutError" || (err as Error).name === "AbortError") throw HookErrors.timeout(name);
          throw HookErrors.failed(name, "the endpoint could not be reached");
        }
        const text = await res.text();
        if (res.status < 200 || res.status > 299) {
          try {
            const e = JSON.parse(text)?.error;
            if (e) throw HookErrors.refused(name, Number(e.http_code ?? res.status), String(e.message ?? ""));
          } catch (err) {
            if (err instanceof PlinthError) throw err;
          }
          throw HookErrors.failed(name, `the endpoint answered ${res.status}`);
        }
        try {
          out = text ? JSON.parse(text) : {};
        } catch {
          throw HookErrors.badAnswer(name, "not JSON");
        }
      }
      if (typeof out === "string") {
        try {
          out = JSON.parse(out);
        } catch {
          throw HookErrors.badAnswer(name, "not JSON");
        }
      }
      if (out === null || out === undefined) out = {};
      if (typeof out !== "object" || Array.isArray(out)) throw HookErrors.badAnswer(name, "not a JSON object");
      const e = (out as { error?: { http_code?: number; message?: string } }).error;
      if (e) throw HookErrors.refused(name, Number(e.http_code ?? 400), String(e.message ?? ""));
      return out as Record<string, unknown>;
    },
  };
}
