// A small client for /admin/v1 in tests: JSON in, {status, body} out.
import type { TestServer } from "./server.ts";

export interface AdminReply<T = any> {
  status: number;
  body: T;
}

export function adminClient(ts: TestServer, key = ts.keys.service_role) {
  return async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminReply<T>> {
    const res = await fetch(`${ts.url}/admin/v1${path}`, {
      method,
      headers: { apikey: ts.keys.anon, authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

/** Polls `fn` until it returns true (or `ms` passed); for caches that reload asynchronously. */
export async function eventually(fn: () => Promise<boolean>, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > until) return false;
    await Bun.sleep(50);
  }
}
