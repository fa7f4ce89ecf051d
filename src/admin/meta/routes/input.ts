// Request input for the meta routes: a zod schema per body (model.ts) and small query readers.
import type { z } from "zod";
import { AdminError, AdminErrors } from "../../errors.ts";

/**
 * Write routes take their body as text (route option `parse: "text"`) and parse it here, so that
 * malformed JSON is an admin error like any other — and, like any other call, audited.
 */
export const RAW_BODY = { parse: "text" } as const;

export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  let body = raw;
  if (typeof raw === "string") {
    try {
      body = JSON.parse(raw);
    } catch {
      throw new AdminError(400, "bad_json", "Request body could not be parsed as JSON");
    }
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw AdminErrors.validation("Request body must be a JSON object");
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    const first = issues[0]!;
    throw AdminErrors.validation(`Invalid ${first.path || "body"}: ${first.message}`, issues);
  }
  return parsed.data;
}

export function boolParam(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw AdminErrors.validation(`${name} must be true or false`);
}

export function intParam(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw AdminErrors.validation(`${name} must be a positive integer`);
  return Math.min(n, max);
}
