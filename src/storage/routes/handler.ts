// What every storage route shares: the caller from the gateway, bounded JSON bodies, bucket/name
// extraction from the raw path (decoded once, here), one error boundary, and object responses.
import type { Principal } from "../../db/pool.ts";
import { requestContext } from "../../lib/request-context.ts";
import type { StorageContext } from "../context.ts";
import { servedContentHeaders } from "../content-safety.ts";
import { errors, renderStorageError } from "../errors.ts";
import { etagMatches, notModifiedSince, parseRange, RangeNotSatisfiable } from "../../lib/http-range.ts";
import { decodeObjectPath } from "../names.ts";
import { readBytes, type Found } from "../objects.ts";

export const PREFIX = "/storage/v1";

export interface Call {
  request: Request;
  url: URL;
  principal: Principal | null;
}

/**
 * Wraps a handler: builds the Call, renders any error in Storage's shape. Routes are declared with
 * `parse: "none"`: Elysia must never read (and buffer) an upload body on its own.
 */
export function handler(ctx: StorageContext, fn: (call: Call) => Promise<Response>) {
  return async ({ request }: { request: Request }): Promise<Response> => {
    const url = new URL(request.url);
    try {
      return await fn({ request, url, principal: requestContext(request)?.principal ?? null });
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (typeof status !== "number" || status >= 500) {
        ctx.log.error("storage error", { request_id: requestContext(request)?.id, path: url.pathname, error: err });
      }
      return renderStorageError(err);
    }
  };
}

export const NO_PARSE = { parse: "none" as const };

export { json } from "../../errors.ts";

const MAX_JSON = 1024 * 1024;

/** A JSON body of at most 1 MiB (the gateway leaves storage bodies unbounded for uploads). */
export async function readJson<T = Record<string, unknown>>(request: Request): Promise<T> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_JSON) throw errors.entityTooLarge();
  if (!request.body) return {} as T;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > MAX_JSON) throw errors.entityTooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return {} as T;
  try {
    const value = JSON.parse(text);
    if (!value || typeof value !== "object") throw new Error("not an object");
    return value as T;
  } catch {
    throw errors.invalidRequest("Body is not valid JSON");
  }
}

/** "/storage/v1/object/sign/bucket/a/b.png" with routeBase "/object/sign/" → ["bucket", "a/b.png"]. */
export function bucketAndName(url: URL, routeBase: string): { bucket: string; name: string } {
  const rest = url.pathname.slice(PREFIX.length + routeBase.length);
  const slash = rest.indexOf("/");
  const bucket = decodeObjectPath(slash < 0 ? rest : rest.slice(0, slash));
  const name = slash < 0 ? "" : decodeObjectPath(rest.slice(slash + 1));
  if (!name) throw errors.invalidKey("");
  return { bucket, name };
}

export function bucketOnly(url: URL, routeBase: string): string {
  return decodeObjectPath(url.pathname.slice(PREFIX.length + routeBase.length).replace(/\/$/, ""));
}

export const truthy = (v: string | null) => v !== null && v.toLowerCase() === "true";

/**
 * The object's bytes (or 304, or 206 for a range, or HEAD's headers), with Supabase's headers and
 * the content-safety ones (content-safety.ts) on every one of them.
 */
export async function sendObject(ctx: StorageContext, call: Call, found: Found, opts: { cacheControl?: string } = {}): Promise<Response> {
  const m = found.row.metadata;
  const lastModified = new Date(m.lastModified ?? found.row.updated_at);
  const headers: Record<string, string> = {
    ...servedContentHeaders(m.mimetype, opts.cacheControl ?? m.cacheControl),
    etag: m.eTag,
    "last-modified": lastModified.toUTCString(),
    "accept-ranges": "bytes",
  };
  if (!found.isCurrent) headers["x-version-id"] = found.row.version;
  const download = call.url.searchParams.get("download");
  if (download !== null) {
    const filename = download || found.row.name.split("/").pop()!;
    headers["content-disposition"] = `attachment; filename="${filename.replace(/[^\x20-\x7e]|["\\]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
  }
  const inm = call.request.headers.get("if-none-match");
  if (etagMatches(inm, m.eTag) || (inm === null && notModifiedSince(call.request.headers.get("if-modified-since"), lastModified))) {
    return new Response(null, { status: 304, headers });
  }
  const size = Number(m.size);
  let range = null;
  try {
    range = parseRange(call.request.headers.get("range"), size);
  } catch (err) {
    if (err instanceof RangeNotSatisfiable) {
      const r = renderStorageError(errors.invalidRange());
      r.headers.set("content-range", `bytes */${size}`);
      return r;
    }
    throw err;
  }
  const length = range ? range.end - range.start + 1 : size;
  headers["content-length"] = String(length);
  if (range) headers["content-range"] = `bytes ${range.start}-${range.end}/${size}`;
  const status = range ? 206 : 200;
  if (call.request.method === "HEAD") return new Response(null, { status, headers });
  const body = await readBytes(ctx, found.row.version, range ?? undefined);
  return new Response(body, { status, headers });
}
