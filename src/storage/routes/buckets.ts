// /storage/v1/bucket/*
import { Elysia } from "elysia";
import * as buckets from "../buckets.ts";
import type { StorageContext } from "../context.ts";
import { bucketOnly, handler, json, NO_PARSE, PREFIX, readJson, type Call } from "./handler.ts";

export function bucketRoutes(ctx: StorageContext) {
  const h = (fn: (call: Call) => Promise<Response>) => handler(ctx, fn);
  const id = (call: Call) => bucketOnly(call.url, "/bucket/").replace(/\/empty$/, "");
  const extras = (call: Call) => call.request.headers.get(buckets.PLINTH_EXTRAS_HEADER)?.toLowerCase() === "true";
  return new Elysia({ prefix: `${PREFIX}/bucket` })
    .get(
      "/",
      h(async (call) => json(await buckets.listBuckets(ctx, call.principal, call.url.searchParams, extras(call)))),
      NO_PARSE,
    )
    .get(
      "",
      h(async (call) => json(await buckets.listBuckets(ctx, call.principal, call.url.searchParams, extras(call)))),
      NO_PARSE,
    )
    .post(
      "/",
      h(async (call) => json(await buckets.createBucket(ctx, call.principal, await readJson(call.request)))),
      NO_PARSE,
    )
    .post(
      "",
      h(async (call) => json(await buckets.createBucket(ctx, call.principal, await readJson(call.request)))),
      NO_PARSE,
    )
    .get(
      "/:id",
      h(async (call) => json(await buckets.getBucket(ctx, call.principal, id(call), extras(call)))),
      NO_PARSE,
    )
    .put(
      "/:id",
      h(async (call) => json(await buckets.updateBucket(ctx, call.principal, id(call), await readJson(call.request)))),
      NO_PARSE,
    )
    .post(
      "/:id/empty",
      h(async (call) => json(await buckets.emptyBucket(ctx, call.principal, id(call)))),
      NO_PARSE,
    )
    .delete(
      "/:id",
      h(async (call) => json(await buckets.deleteBucket(ctx, call.principal, id(call)))),
      NO_PARSE,
    );
}
