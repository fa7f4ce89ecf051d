// /storage/v1/render/image/{public|authenticated|sign}/{bucket}/{path}: image transformations, with
// the same access rules as the matching /object downloads (public bucket; the caller's RLS; a
// signed token). Each route reads its inputs and calls renderImage once.
import { Elysia } from "elysia";
import type { StorageContext } from "../context.ts";
import { renderImage, type ImageRenderer, type RenderRequest } from "../image/render.ts";
import { sendVariant } from "../image/respond.ts";
import { bucketAndName, handler, NO_PARSE, PREFIX, type Call } from "./handler.ts";

export function renderRoutes(ctx: StorageContext, renderer: ImageRenderer) {
  const route = (base: string, access: (call: Call) => RenderRequest["access"]) =>
    handler(ctx, async (call) => {
      const { bucket, name } = bucketAndName(call.url, base);
      const rendered = await renderImage(ctx, renderer, {
        access: access(call),
        bucket,
        name,
        query: call.url.searchParams,
        accept: call.request.headers.get("accept"),
      });
      return sendVariant(call, rendered);
    });
  return new Elysia({ prefix: `${PREFIX}/render/image` })
    .get(
      "/public/:bucket/*",
      route("/render/image/public/", () => ({ kind: "public" })),
      NO_PARSE,
    )
    .get(
      "/authenticated/:bucket/*",
      route("/render/image/authenticated/", (call) => ({ kind: "caller", principal: call.principal })),
      NO_PARSE,
    )
    .get(
      "/sign/:bucket/*",
      route("/render/image/sign/", (call) => ({ kind: "signed", token: call.url.searchParams.get("token"), render: true })),
      NO_PARSE,
    );
}
