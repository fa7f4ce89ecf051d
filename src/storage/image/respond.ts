// The response for a rendered variant: Supabase's render headers (content type of the output,
// the object's cache-control — or Expires for a signed URL —, Last-Modified, X-Transformations),
// a strong ETag of this variant with 304 on If-None-Match, Vary: Accept when the Accept header
// chose the format, the content-safety headers, and the file streamed from the variant cache.
import { servedContentHeaders } from "../content-safety.ts";
import { etagMatches } from "../../lib/http-range.ts";
import type { Call } from "../routes/handler.ts";
import { imgproxyForm, MIME } from "./options.ts";
import type { Rendered } from "./render.ts";

export function sendVariant(call: Call, { found, variant, expires }: Rendered): Response {
  const m = found.row.metadata;
  const headers: Record<string, string> = {
    ...servedContentHeaders(MIME[variant.format], m.cacheControl),
    etag: variant.etag,
    "last-modified": new Date(m.lastModified ?? found.row.updated_at).toUTCString(),
    "x-robots-tag": "none",
  };
  if (expires) {
    delete headers["cache-control"];
    headers.expires = expires;
  }
  const transformations = imgproxyForm(variant.options);
  if (transformations) headers["x-transformations"] = transformations;
  if (variant.variesByAccept) headers.vary = "Accept";
  const download = call.url.searchParams.get("download");
  if (download !== null) {
    const filename = download || found.row.name.split("/").pop()!;
    headers["content-disposition"] = `attachment; filename="${filename.replace(/[^\x20-\x7e]|["\\]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
  }
  if (etagMatches(call.request.headers.get("if-none-match"), variant.etag)) return new Response(null, { status: 304, headers });
  headers["content-length"] = String(variant.size);
  if (call.request.method === "HEAD") return new Response(null, { status: 200, headers });
  return new Response(Bun.file(variant.path), { status: 200, headers });
}
