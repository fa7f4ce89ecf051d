// Image transformation options as storage-js sends them (query: width, height, resize, quality,
// format; createSignedUrl's body: `transform` with the same names), validated as Supabase Storage's
// schema does (transformations.ts there): integers ≥ 0, quality 20–100, resize cover|contain|fill,
// format origin|avif|webp. Width and height are clamped to [1, maxDimension], not refused, as
// Supabase clamps them (0 means "not given").
//
// Three spellings of one set of options, each with one job:
//   - the token form ("height:200,width:200,resize:cover,quality:60,format:webp"): what a signed
//     transform URL carries inside its JWT, so the transform is part of what is signed;
//   - the imgproxy form ("height:200,width:200,resizing_type:fill,quality:60"): the
//     `X-Transformations` response header storage-js's tests read (Supabase forwards imgproxy's);
//   - the variant key (options + the negotiated output format): names the cached rendering.
import { errors } from "../errors.ts";

export type ResizeMode = "cover" | "contain" | "fill";
export type RequestedFormat = "origin" | "avif" | "webp";
export type OutputFormat = "jpeg" | "png" | "webp" | "avif" | "gif" | "tiff";

export interface TransformOptions {
  width?: number;
  height?: number;
  resize?: ResizeMode;
  quality?: number;
  format?: RequestedFormat;
}

const RESIZE: readonly ResizeMode[] = ["cover", "contain", "fill"];
const FORMATS: readonly RequestedFormat[] = ["origin", "avif", "webp"];

function integer(name: string, raw: unknown, min: number, max?: number): number | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n)) throw errors.invalidRequest(`querystring/${name} must be integer`);
  if (n < min) throw errors.invalidRequest(`querystring/${name} must be >= ${min}`);
  if (max !== undefined && n > max) throw errors.invalidRequest(`querystring/${name} must be <= ${max}`);
  return n;
}

function oneOf<T extends string>(name: string, raw: unknown, allowed: readonly T[]): T | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (typeof raw !== "string" || !(allowed as readonly string[]).includes(raw)) {
    throw errors.invalidRequest(`querystring/${name} must be equal to one of the allowed values`);
  }
  return raw as T;
}

/** Options from a query string or a JSON `transform` object; unknown names are ignored (as Supabase). */
export function parseTransform(input: URLSearchParams | Record<string, unknown> | null | undefined): TransformOptions {
  if (!input) return {};
  const get = (k: string): unknown => (input instanceof URLSearchParams ? (input.get(k) ?? undefined) : input[k]);
  const out: TransformOptions = {};
  const width = integer("width", get("width"), 0);
  const height = integer("height", get("height"), 0);
  if (width) out.width = width;
  if (height) out.height = height;
  const quality = integer("quality", get("quality"), 20, 100);
  if (quality !== undefined) out.quality = quality;
  const resize = oneOf("resize", get("resize"), RESIZE);
  if (resize) out.resize = resize;
  const format = oneOf("format", get("format"), FORMATS);
  if (format) out.format = format;
  return out;
}

/** Width and height clamped to what the server renders (1..maxDimension). */
export function clampDimensions(o: TransformOptions, maxDimension: number): TransformOptions {
  const clamp = (n: number | undefined) => (n === undefined ? undefined : Math.min(Math.max(n, 1), maxDimension));
  const out: TransformOptions = { ...o };
  if (o.width !== undefined) out.width = clamp(o.width);
  if (o.height !== undefined) out.height = clamp(o.height);
  return out;
}

export const isEmptyTransform = (o: TransformOptions): boolean => Object.keys(o).length === 0;

/** The token form (see the header). Fixed order, so equal options sign equal strings. */
export function toTokenString(o: TransformOptions): string {
  const parts: string[] = [];
  if (o.height) parts.push(`height:${o.height}`);
  if (o.width) parts.push(`width:${o.width}`);
  if (o.resize) parts.push(`resize:${o.resize}`);
  if (o.quality) parts.push(`quality:${o.quality}`);
  if (o.format) parts.push(`format:${o.format}`);
  return parts.join(",");
}

/**
 * Reads the token form back. The string came out of a verified token (this server signed it), but
 * it is parsed as strictly as a query: a token signed by another implementation with other names
 * (Supabase's `resize:undefined`, gravity) loses only what Plinth does not render.
 */
export function fromTokenString(s: string): TransformOptions {
  const fields: Record<string, string> = {};
  for (const part of s.split(",")) {
    const colon = part.indexOf(":");
    if (colon <= 0) continue;
    const name = part.slice(0, colon);
    const value = part.slice(colon + 1);
    if (name === "resize" && !(RESIZE as readonly string[]).includes(value)) continue;
    fields[name] = value;
  }
  return parseTransform(fields);
}

const RESIZING_TYPE: Record<ResizeMode, string> = { cover: "fill", contain: "fit", fill: "force" };

/** The imgproxy form for `X-Transformations` (what Supabase's renderer reports). */
export function imgproxyForm(o: TransformOptions): string {
  const parts: string[] = [];
  if (o.height) parts.push(`height:${o.height}`);
  if (o.width) parts.push(`width:${o.width}`);
  if (o.width || o.height) parts.push(`resizing_type:${RESIZING_TYPE[o.resize ?? "cover"]}`);
  if (o.quality) parts.push(`quality:${o.quality}`);
  if (o.format && o.format !== "origin") parts.push(`format:${o.format}`);
  return parts.join(",");
}

/**
 * The output format. `origin` keeps the source's; an explicit avif or webp wins; with no format
 * the client's Accept decides (webp when it says image/webp, as Supabase's imgproxy does with WebP
 * detection on), which makes the response vary by Accept. AVIF is never picked by Accept alone:
 * encoding it costs ~10× WebP's CPU, so it must be asked for.
 */
export function outputFormat(o: TransformOptions, source: OutputFormat, accept: string | null): { format: OutputFormat; variesByAccept: boolean } {
  if (o.format === "webp" || o.format === "avif") return { format: o.format, variesByAccept: false };
  if (o.format === "origin") return { format: source, variesByAccept: false };
  const webp = accept !== null && /(^|[\s,])image\/webp(\s*(;|,|$))/i.test(accept);
  return { format: webp ? "webp" : source, variesByAccept: true };
}

export const MIME: Record<OutputFormat, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
  gif: "image/gif",
  tiff: "image/tiff",
};
