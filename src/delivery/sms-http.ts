// The one HTTP call every SMS provider makes: POST with a deadline, no redirects, and failures
// turned into DeliveryError whose `cause` says what happened without quoting secrets or bodies.
import { DeliveryError, failure } from "./errors.ts";

/** fetch as the providers use it; injectable so tests can count or fake calls. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpOptions {
  timeoutMs: number;
  fetch: Fetch;
}

export interface ProviderResponse {
  status: number;
  ok: boolean;
  /** Parsed JSON body, or null when the body was not JSON. */
  json: unknown;
}

export async function postToProvider(
  provider: string,
  url: string,
  request: { headers: Record<string, string>; body: string },
  http: HttpOptions,
): Promise<ProviderResponse> {
  let response: Response;
  let text: string;
  try {
    response = await http.fetch(url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      // A redirect would replay the api-key header to wherever it points; providers' send
      // endpoints never redirect, so a 3xx is reported as a failure instead.
      redirect: "manual",
      // Covers connecting, the response headers and reading the body.
      signal: AbortSignal.timeout(http.timeoutMs),
    });
    text = await response.text();
  } catch (e) {
    const detail = isTimeout(e) ? `no answer within ${http.timeoutMs} ms` : `request failed (${errorName(e)})`;
    throw new DeliveryError("sms", failure(provider, detail));
  }
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: providers answer errors from proxies and load balancers in HTML.
  }
  return { status: response.status, ok: response.status >= 200 && response.status < 300, json };
}

/**
 * A refusal by the provider. Only the named fields of its JSON answer go into the cause (they
 * are for the operator's log), truncated: provider bodies can echo the message, i.e. the code.
 */
export function rejected(provider: string, res: ProviderResponse, fields: readonly string[]): DeliveryError {
  const parts = fields
    .map((f) => [f, field(res.json, f)] as const)
    .filter(([, v]) => v !== undefined)
    .map(([f, v]) => `${f}=${String(v).slice(0, 120)}`);
  const detail = `HTTP ${res.status}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
  return new DeliveryError("sms", failure(provider, detail));
}

/** A string or number field of a JSON object, as a string; undefined otherwise. */
export function field(json: unknown, name: string): string | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  const value = (json as Record<string, unknown>)[name];
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
}

/** The error's class and system code ("TypeError", "ConnectionRefused"), never its message,
 *  which may quote the URL. */
function errorName(e: unknown): string {
  if (e instanceof Error) {
    const code = "code" in e && typeof e.code === "string" ? `: ${e.code}` : "";
    return `${e.name}${code}`;
  }
  return typeof e;
}
