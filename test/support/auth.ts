// Helpers for the auth suites: a supabase-js client for a test server, and the code and link out
// of a received mail or SMS.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { SinkMail } from "./smtp-sink.ts";

export function client(url: string, key: string, flowType: "implicit" | "pkce" = "implicit"): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType },
  });
}

export function codeOf(text: string): string {
  const m = /code:\s*(\d{6,10})/.exec(text) ?? /\b(\d{6})\b/.exec(text);
  if (!m) throw new Error(`no code in: ${text}`);
  return m[1]!;
}

export function linkOf(mail: SinkMail): URL {
  const m = /(https?:\/\/\S+\/auth\/v1\/verify\?\S+)/.exec(mail.text);
  if (!m) throw new Error(`no link in: ${mail.text}`);
  return new URL(m[1]!);
}

/** Follows a /verify link like a browser would, without following the redirect. */
export async function follow(link: URL): Promise<{ status: number; location: URL }> {
  const res = await fetch(link, { redirect: "manual" });
  return { status: res.status, location: new URL(res.headers.get("location")!) };
}

export const fragmentOf = (u: URL): URLSearchParams => new URLSearchParams(u.hash.slice(1));

let n = 0;
/** A unique address per call (tests share one database per file). */
export const uniqueEmail = (tag = "user"): string => `${tag}.${Date.now().toString(36)}.${n++}@example.com`;

/** A valid Ghanaian mobile number, unique per call. */
export const uniquePhone = (): string => `+23324${String(1000000 + ((Date.now() + n++ * 7919) % 8999999)).padStart(7, "0")}`;

/** Raw JSON call for the ugly cases. */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { key: string; bearer?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${base}/auth/v1${path}`, {
    method,
    headers: {
      apikey: opts.key,
      authorization: `Bearer ${opts.bearer ?? opts.key}`,
      "content-type": "application/json",
      "x-supabase-api-version": "2024-01-01",
      ...opts.headers,
    },
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}
