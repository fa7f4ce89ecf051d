// The storage service: Supabase Storage's HTTP API under /storage/v1 (routes/), the domain
// (buckets.ts, objects.ts, uploads.ts, tus.ts), and the adapters (db.ts for metadata under RLS,
// backends/ for bytes). createStorageService wires them from the service context.
import { Elysia } from "elysia";
import type { Service, ServiceContext } from "../service.ts";
import { createBackend } from "./backends/factory.ts";
import type { StorageBackend } from "./backends/backend.ts";
import type { StorageContext } from "./context.ts";
import { bucketRoutes } from "./routes/buckets.ts";
import { objectRoutes } from "./routes/objects.ts";
import { tusRoutes } from "./routes/tus.ts";
import { renderRoutes } from "./routes/render.ts";
import { defaultLimits, Slots, type ImageRenderer } from "./image/render.ts";
import { loadSharp } from "./image/sharp-loader.ts";
import { VariantCache } from "./image/variant-cache.ts";
import { join, resolve } from "node:path";
import { startSweeper } from "./sweeper.ts";
import { createTus } from "./tus.ts";

export interface StorageServiceOptions {
  /** Replaces the configured backend (tests). */
  backend?: StorageBackend;
  /** Sweeper period in ms (default 15 min). */
  sweepIntervalMs?: number;
}

export async function createStorageService(ctx: ServiceContext, opts: StorageServiceOptions = {}): Promise<Service & { context: StorageContext }> {
  const storage: StorageContext = {
    db: ctx.db,
    backend: opts.backend ?? (await createBackend(ctx.config)),
    secret: ctx.jwtSecret,
    log: ctx.log,
    globalFileSizeLimit: ctx.config.storage.fileSizeLimit,
    imageTransformation: ctx.config.storage.imageTransformation.enabled,
  };
  const sweeper = startSweeper(storage, opts.sweepIntervalMs);
  let routes = new Elysia()
    .use(bucketRoutes(storage))
    .use(objectRoutes(storage))
    .use(tusRoutes(storage, createTus(storage)));
  if (storage.imageTransformation) routes = routes.use(renderRoutes(storage, createImageRenderer(ctx)));
  return { name: "storage", routes, context: storage, stop: () => sweeper.stop() };
}

function createImageRenderer(ctx: ServiceContext): ImageRenderer {
  const cfg = ctx.config.storage.imageTransformation;
  const limits = defaultLimits(cfg);
  const dataDir = resolve(ctx.config.dataDir);
  return {
    limits,
    cache: new VariantCache(join(dataDir, "cache", "render"), cfg.cacheBytes),
    sharp: () => loadSharp(dataDir),
    inFlight: new Map(),
    slots: new Slots(limits.concurrency, limits.maxQueue),
  };
}
