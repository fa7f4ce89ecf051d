// Rendering one variant of a stored image: the caller's access was checked before (the Found row
// comes from objects.findForRead), so this only turns (object version, options, Accept) into a file
// on disk, from the variant cache or by running libvips.
//
// Memory: the source is never read into JS memory. libvips gets a path (the local backend's file,
// or a temp file a remote backend's bytes were streamed to, capped at maxSourceBytes) and decodes
// with sequential access, shrinking JPEGs on load; the output goes to a file that the response
// streams. What stays resident is what libvips needs for the decode window and the output image.
//
// Limits, checked before decoding a pixel: the object's recorded size (then the bytes actually
// read), the header's width × height (limitInputPixels also stops libvips itself), the input
// format (raster formats only: SVG and PDF are documents that reference other resources), the
// output size (options.ts clamps it), a 30 s render timeout, and how many renders run at once.
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { rm, stat } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { BytesNotFound, versionKey } from "../backends/backend.ts";
import type { StorageContext } from "../context.ts";
import { errors, isStorageError } from "../errors.ts";
import { findForRead, type Access, type Found } from "../objects.ts";
import { verifyDownloadGrant } from "../signing.ts";
import { clampDimensions, fromTokenString, outputFormat, parseTransform, toTokenString, type OutputFormat, type TransformOptions } from "./options.ts";
import type { Sharp } from "./sharp-loader.ts";
import type { VariantCache } from "./variant-cache.ts";

export interface ImageLimits {
  maxSourceBytes: number;
  maxSourcePixels: number;
  maxDimension: number;
  /** Renders at once. */
  concurrency: number;
  /** Renders waiting for a slot before new ones are refused with 429. */
  maxQueue: number;
  timeoutSeconds: number;
}

export interface ImageRenderer {
  limits: ImageLimits;
  cache: VariantCache;
  sharp(): Promise<Sharp>;
  /** Renders in progress by variant key: a second request for the same variant waits for the first. */
  inFlight: Map<string, Promise<RenderedVariant>>;
  slots: Slots;
}

export interface RenderedVariant {
  path: string;
  size: number;
  format: OutputFormat;
  /** Strong validator of this variant (changes with the source version and the options). */
  etag: string;
  variesByAccept: boolean;
  options: TransformOptions;
}

/** Source formats libvips may decode here. */
const RASTER: ReadonlySet<string> = new Set(["jpeg", "png", "webp", "gif", "tiff", "heif", "avif"]);

export function defaultLimits(l: { maxSourceBytes: number; maxSourcePixels: number; maxDimension: number; concurrency: number }): ImageLimits {
  return {
    maxSourceBytes: l.maxSourceBytes,
    maxSourcePixels: l.maxSourcePixels,
    maxDimension: l.maxDimension,
    concurrency: l.concurrency > 0 ? l.concurrency : Math.max(1, availableParallelism()),
    maxQueue: 32,
    timeoutSeconds: 30,
  };
}

export interface RenderRequest {
  access: Access;
  bucket: string;
  name: string;
  /** The query string: transformation options (ignored for a signed URL: its token carries them). */
  query: URLSearchParams;
  accept: string | null;
}

export interface Rendered {
  found: Found;
  variant: RenderedVariant;
  /** A signed URL's expiry (HTTP date): sent as Expires, as Supabase does. */
  expires?: string;
}

/** The one call a render route makes: options, access (as a download), then the variant. */
export async function renderImage(ctx: StorageContext, r: ImageRenderer, req: RenderRequest): Promise<Rendered> {
  let options: TransformOptions;
  let expires: string | undefined;
  if (req.access.kind === "signed") {
    const grant = await verifyDownloadGrant(ctx.secret, req.access.token, req.bucket, req.name, null);
    options = grant.transformations ? fromTokenString(grant.transformations) : {};
    expires = new Date(grant.exp * 1000).toUTCString();
  } else {
    options = parseTransform(req.query);
  }
  const found = await findForRead(ctx, req.access, req.bucket, req.name);
  const variant = await renderVariant(ctx, r, found, options, req.accept);
  return { found, variant, expires };
}

export async function renderVariant(
  ctx: StorageContext,
  r: ImageRenderer,
  found: Found,
  requested: TransformOptions,
  accept: string | null,
): Promise<RenderedVariant> {
  const size = Number(found.row.metadata.size);
  if (Number.isFinite(size) && size > r.limits.maxSourceBytes) throw errors.imageSourceTooLarge();
  const options = clampDimensions(requested, r.limits.maxDimension);
  // The output format may depend on the source's (origin, or no format and no WebP in Accept):
  // the key records what decided it, so a hit needs no decoding.
  const probe = outputFormat(options, "jpeg", accept);
  const decided = options.format ?? (probe.format === "webp" ? "webp(accept)" : "origin(accept)");
  const key = createHash("sha256")
    .update(`v1\0${found.row.version}\0${toTokenString(options)}\0${decided}`)
    .digest("hex")
    .slice(0, 40);
  const etag = `"${key.slice(0, 32)}"`;
  const cached = await r.cache.get(key);
  if (cached) return { path: cached.path, size: cached.size, format: cached.format as OutputFormat, etag, variesByAccept: probe.variesByAccept, options };
  let pending = r.inFlight.get(key);
  if (!pending) {
    pending = r.slots.run(() => produce(ctx, r, found, options, accept, key, etag)).finally(() => r.inFlight.delete(key));
    r.inFlight.set(key, pending);
  }
  return pending;
}

async function produce(
  ctx: StorageContext,
  r: ImageRenderer,
  found: Found,
  options: TransformOptions,
  accept: string | null,
  key: string,
  etag: string,
): Promise<RenderedVariant> {
  const sharp = await r.sharp().catch((err) => {
    ctx.log.error("image transformation unavailable: sharp did not load", { error: err });
    throw errors.imageUnavailable();
  });
  const source = await sourceFile(ctx, r, found.row.version);
  const out = r.cache.tempPath();
  try {
    const input = { limitInputPixels: r.limits.maxSourcePixels, sequentialRead: true, failOn: "error" as const };
    let meta: import("sharp").Metadata;
    try {
      meta = await sharp(source.path, input).metadata();
    } catch (err) {
      throw decodeError(err);
    }
    if (!meta.format || !RASTER.has(meta.format)) throw errors.imageSourceInvalid();
    if (!meta.width || !meta.height) throw errors.imageSourceInvalid();
    if (meta.width * meta.height > r.limits.maxSourcePixels) throw errors.imageResolutionTooLarge();
    const sourceFormat: OutputFormat = meta.format === "heif" ? "avif" : (meta.format as OutputFormat);
    const { format, variesByAccept } = outputFormat(options, sourceFormat, accept);
    let pipeline = sharp(source.path, input).rotate().timeout({ seconds: r.limits.timeoutSeconds });
    if (options.width || options.height) {
      pipeline = pipeline.resize({
        width: options.width,
        height: options.height,
        fit: options.resize === "contain" ? "inside" : options.resize === "fill" ? "fill" : "cover",
        // imgproxy (Supabase's renderer) does not enlarge by default.
        withoutEnlargement: true,
      });
    }
    const quality = options.quality ?? 80;
    pipeline =
      format === "jpeg"
        ? pipeline.jpeg({ quality, mozjpeg: false })
        : format === "png"
          ? pipeline.png({ compressionLevel: 6 })
          : format === "webp"
            ? pipeline.webp({ quality })
            : format === "avif"
              ? pipeline.avif({ quality: Math.max(1, quality - 20), effort: 2 })
              : format === "gif"
                ? pipeline.gif()
                : pipeline.tiff({ quality });
    let info: { size: number };
    try {
      info = await pipeline.toFile(out);
    } catch (err) {
      throw decodeError(err);
    }
    const variant = await r.cache.put(key, format, out, info.size);
    return { path: variant.path, size: variant.size, format, etag, variesByAccept, options };
  } catch (err) {
    await r.cache.discard(out);
    throw err;
  } finally {
    await source.release();
  }
}

function decodeError(err: unknown): unknown {
  if (isStorageError(err)) return err;
  const message = String((err as Error)?.message ?? err);
  if (/pixel limit/i.test(message)) return errors.imageResolutionTooLarge();
  if (/timeout/i.test(message)) return errors.imageTimeout();
  // Corrupt, truncated, unsupported: libvips' messages are not the client's business.
  return errors.imageSourceInvalid();
}

/** A local path to the source bytes: the backend's own file, or a capped temp copy. */
async function sourceFile(ctx: StorageContext, r: ImageRenderer, version: string): Promise<{ path: string; release(): Promise<void> }> {
  const key = versionKey(version);
  try {
    if (ctx.backend.localPath) {
      const path = await ctx.backend.localPath(key);
      if ((await stat(path)).size > r.limits.maxSourceBytes) throw errors.imageSourceTooLarge();
      return { path, release: async () => {} };
    }
    const body = await ctx.backend.read(key);
    const path = r.cache.tempPath();
    const release = () => rm(path, { force: true });
    try {
      await copyCapped(body instanceof Blob ? body.stream() : body, path, r.limits.maxSourceBytes);
    } catch (err) {
      await release();
      throw err;
    }
    return { path, release };
  } catch (err) {
    if (err instanceof BytesNotFound) throw errors.noSuchKey();
    throw err;
  }
}

async function copyCapped(stream: ReadableStream<Uint8Array>, path: string, max: number): Promise<void> {
  const file = createWriteStream(path, { mode: 0o600 });
  let total = 0;
  try {
    for await (const chunk of stream) {
      total += chunk.byteLength;
      if (total > max) throw errors.imageSourceTooLarge();
      if (!file.write(chunk)) await new Promise((res) => file.once("drain", res));
    }
  } finally {
    await new Promise<void>((res, rej) => file.end((e?: Error | null) => (e ? rej(e) : res())));
  }
}

/** A counting semaphore with a bounded queue: past it, a render is refused (429), not queued. */
export class Slots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly maxQueue: number,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      if (this.waiting.length >= this.maxQueue) throw errors.imageBusy();
      // The finishing render hands its slot over: `running` already counts this one.
      await new Promise<void>((res) => this.waiting.push(res));
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
