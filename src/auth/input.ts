// Request bodies and identifiers: one zod schema per route body, and the normalisers for the three
// ways to name an account (email, phone, username). Bad input is a 400/422 before any database work.
import { z } from "zod";
import type { Config } from "../config/schema.ts";
import { normalisePhone } from "../delivery/index.ts";
import { AuthErrors } from "./errors.ts";

/** Parses a route body with `schema`; a missing body is `{}`, anything else malformed is a 400. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const value = body === undefined || body === null || body === "" ? {} : body;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw AuthErrors.validation("Request body must be a JSON object");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "body";
    throw AuthErrors.validation(`Invalid ${field}: ${issue?.message ?? "unexpected value"}`);
  }
  return parsed.data;
}

/** Optional string fields: clients send null for "not given" (code_challenge: null). */
export const optString = (max = 4096) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((v) => (v === null || v === undefined || v === "" ? undefined : v));

/** Free-form metadata objects (user_metadata, app_metadata, data). */
export const metadata = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((v) => v ?? undefined);

export const pkceFields = {
  code_challenge: optString(256),
  code_challenge_method: optString(16),
};

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** Lowercased, trimmed email, or a 400 (GoTrue's message). */
export function normaliseEmail(input: string): string {
  const email = input.trim().toLowerCase();
  if (email.length > 255 || !EMAIL.test(email)) throw AuthErrors.validation("Unable to validate email address: invalid format");
  return email;
}

/**
 * A phone number as GoTrue stores it: E.164 digits without the "+" (auth.users.phone, the JWT's
 * `phone` claim). `e164` is the "+"-form the SMS providers take.
 */
export function normalisePhoneNumber(config: Config, input: string): { stored: string; e164: string } {
  const e164 = normalisePhone(input, config.sms.defaultCountry);
  if (!e164) throw AuthErrors.validation("Invalid phone number format (E.164 required)");
  return { stored: e164.slice(1), e164 };
}

export const toE164 = (stored: string): string => `+${stored}`;

const USERNAME = /^[a-z0-9_.]{3,32}$/;

/** Usernames are case-insensitive: stored and compared lowercased. */
export function normaliseUsername(input: string): string {
  const name = input.trim().toLowerCase();
  if (!USERNAME.test(name)) {
    throw AuthErrors.validation("Username must be 3 to 32 characters: letters, digits, '_' or '.'");
  }
  return name;
}

export function pkceChallenge(fields: { code_challenge?: string; code_challenge_method?: string }): { challenge: string; method: "s256" | "plain" } | null {
  if (!fields.code_challenge) return null;
  const method = (fields.code_challenge_method ?? "s256").toLowerCase();
  if (method !== "s256" && method !== "plain") throw AuthErrors.validation("Invalid code_challenge_method: use s256 or plain");
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(fields.code_challenge)) throw AuthErrors.validation("Invalid code_challenge");
  return { challenge: fields.code_challenge, method };
}
