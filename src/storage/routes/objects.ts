// /storage/v1/object/*: each route reads its inputs and calls one domain function.
import { Elysia } from "elysia";
import type { Principal } from "../../db/pool.ts";
import { ownerOf, requireCaller, type StorageContext } from "../context.ts";
import { errors } from "../errors.ts";
import { multipartBoundary, readMultipart } from "../../lib/multipart.ts";
import * as objects from "../objects.ts";
import { verifyUpload } from "../signing.ts";
import { cacheControlOf, parseUserMetadata, prepareWrite, writeObject, type ObjectWrite } from "../uploads.ts";
import { bucketAndName, bucketOnly, handler, json, NO_PARSE, PREFIX, readJson, sendObject, truthy, type Call } from "./handler.ts";

const EMPTY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} };

/** An upload's body: multipart (the file under any field, fields before it) or the raw bytes. */
async function upload(ctx: StorageContext, call: Call, base: Omit<ObjectWrite, "contentType" | "cacheControl" | "userMetadata">) {
  const contentType = call.request.headers.get("content-type");
  const boundary = multipartBoundary(contentType);
  let write: ObjectWrite;
  let body: AsyncIterable<Uint8Array>;
  if (boundary) {
    if (!call.request.body) throw errors.invalidRequest("No content provided");
    const fields = new Map<string, string>();
    const file = await readMultipart(call.request.body, boundary, (f) => fields.set(f.name, f.value)).catch((err) => {
      if ((err as Error).name === "MultipartError") throw errors.invalidRequest((err as Error).message);
      throw err;
    });
    if (!file) throw errors.invalidRequest("No file in the multipart body");
    write = {
      ...base,
      contentType: file.contentType || "application/octet-stream",
      cacheControl: cacheControlOf(fields.get("cacheControl")),
      userMetadata: parseUserMetadata(fields.get("metadata")),
    };
    body = file.body;
  } else {
    const length = call.request.headers.get("content-length");
    write = {
      ...base,
      contentType: contentType || "application/octet-stream",
      cacheControl: cacheControlOf(call.request.headers.get("cache-control")),
      userMetadata: parseUserMetadata(call.request.headers.get("x-metadata"), true),
      declaredSize: length !== null && /^\d+$/.test(length) && !call.request.headers.has("content-encoding") ? Number(length) : undefined,
    };
    body = call.request.body ?? EMPTY;
  }
  const target = await prepareWrite(ctx, write);
  return writeObject(ctx, write, target, body);
}

function callerWrite(principal: Principal | null, bucket: string, name: string, upsert: boolean) {
  const caller = requireCaller(principal);
  return { principal: caller, owner: ownerOf(caller), bucket, name, mode: upsert ? ("upsert" as const) : ("create" as const) };
}

export function objectRoutes(ctx: StorageContext) {
  const h = (fn: (call: Call) => Promise<Response>) => handler(ctx, fn);
  const download = (base: string, access: (call: Call) => objects.Access) =>
    h(async (call) => {
      const { bucket, name } = bucketAndName(call.url, base);
      const found = await objects.findForRead(ctx, access(call), bucket, name, call.url.searchParams.get("versionId"));
      return sendObject(ctx, call, found);
    });
  const asCallerAccess = (call: Call): objects.Access => ({ kind: "caller", principal: call.principal });
  const signedAccess = (call: Call): objects.Access => ({ kind: "signed", token: call.url.searchParams.get("token") });
  const downloads: [string, (call: Call) => objects.Access][] = [
    ["/object/sign/", signedAccess],
    ["/object/public/", () => ({ kind: "public" })],
    ["/object/authenticated/", asCallerAccess],
    ["/object/", asCallerAccess],
  ];
  const headHandlers = downloads.map(([base, access]) => [base, download(base, access)] as const);
  /**
   * Elysia answers HEAD on wildcard routes by running the GET handler and reading the whole body
   * to count it. For a multi-gigabyte object that is not acceptable, so HEAD is answered here,
   * before routing, from the row alone.
   */
  const head = ({ request }: { request: Request }) => {
    if (request.method !== "HEAD") return;
    const path = new URL(request.url).pathname;
    for (const [base, fn] of headHandlers) {
      if (path.startsWith(PREFIX + base)) return fn({ request });
    }
  };

  return (
    new Elysia({ prefix: `${PREFIX}/object` })
      .onRequest(head)
      // --- signed URLs (before the generic /:bucket/* routes; static segments win anyway) ---
      .post(
        "/sign/:bucket",
        h(async (call) => json(await objects.createSignedUrls(ctx, call.principal, bucketOnly(call.url, "/object/sign/"), await readJson(call.request)))),
        NO_PARSE,
      )
      .post(
        "/sign/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/sign/");
          return json(await objects.createSignedUrl(ctx, call.principal, bucket, name, await readJson(call.request)));
        }),
        NO_PARSE,
      )
      .get("/sign/:bucket/*", download("/object/sign/", signedAccess), NO_PARSE)
      .post(
        "/upload/sign/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/upload/sign/");
          return json(await objects.createSignedUploadUrl(ctx, call.principal, bucket, name, truthy(call.request.headers.get("x-upsert"))));
        }),
        NO_PARSE,
      )
      .put(
        "/upload/sign/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/upload/sign/");
          const grant = await verifyUpload(ctx.secret, call.url.searchParams.get("token"), bucket, name);
          // The upload runs as the signer, whoever sends it: their policies decide again now (the
          // URL may be hours old) and they are the owner. The caller's own key plays no part.
          const signer = grant.signer;
          const result = await upload(ctx, call, { principal: signer, owner: ownerOf(signer), bucket, name, mode: grant.upsert ? "upsert" : "create" });
          return json({ Id: result.id, Key: `${bucket}/${name}` });
        }),
        NO_PARSE,
      )
      // --- public and authenticated downloads, info ---
      .get(
        "/public/:bucket/*",
        download("/object/public/", () => ({ kind: "public" })),
        NO_PARSE,
      )
      .get("/authenticated/:bucket/*", download("/object/authenticated/", asCallerAccess), NO_PARSE)
      .get(
        "/info/:bucket/*",
        h(async (call) => {
          let base = "/object/info/";
          let access: objects.Access = asCallerAccess(call);
          const first = call.url.pathname.slice(PREFIX.length + base.length).split("/")[0];
          if (first === "public") {
            base += "public/";
            access = { kind: "public" };
          } else if (first === "authenticated") {
            base += "authenticated/";
          }
          const { bucket, name } = bucketAndName(call.url, base);
          return json(objects.objectInfo(await objects.findForRead(ctx, access, bucket, name, call.url.searchParams.get("versionId"))));
        }),
        NO_PARSE,
      )
      // --- listing and search ---
      .post(
        "/list/:bucket",
        h(async (call) => json(await objects.listObjects(ctx, call.principal, bucketOnly(call.url, "/object/list/"), await readJson(call.request)))),
        NO_PARSE,
      )
      .post(
        "/list-v2/:bucket",
        h(async (call) => json(await objects.listObjectsV2(ctx, call.principal, bucketOnly(call.url, "/object/list-v2/"), await readJson(call.request)))),
        NO_PARSE,
      )
      .post(
        "/search/:bucket",
        h(async (call) => json(await objects.searchObjects(ctx, call.principal, bucketOnly(call.url, "/object/search/"), await readJson(call.request)))),
        NO_PARSE,
      )
      // --- versions (Plinth) ---
      .get(
        "/versions/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/versions/");
          return json(await objects.listVersions(ctx, call.principal, bucket, name));
        }),
        NO_PARSE,
      )
      .post(
        "/versions/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/versions/");
          const body = await readJson<{ versionId?: unknown }>(call.request);
          return json(await objects.restoreVersion(ctx, call.principal, bucket, name, body.versionId));
        }),
        NO_PARSE,
      )
      // --- move, copy ---
      .post(
        "/move",
        h(async (call) => json(await objects.moveObject(ctx, call.principal, await readJson(call.request)))),
        NO_PARSE,
      )
      .post(
        "/copy",
        h(async (call) => json(await objects.copyObject(ctx, call.principal, await readJson(call.request), truthy(call.request.headers.get("x-upsert"))))),
        NO_PARSE,
      )
      // --- remove many ---
      .delete(
        "/:bucket",
        h(async (call) => {
          const body = await readJson<{ prefixes?: unknown }>(call.request);
          return json(await objects.removeObjects(ctx, call.principal, bucketOnly(call.url, "/object/"), body.prefixes));
        }),
        NO_PARSE,
      )
      // --- one object: upload, update, download, remove ---
      .post(
        "/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/");
          const write = callerWrite(call.principal, bucket, name, truthy(call.request.headers.get("x-upsert")));
          const result = await upload(ctx, call, write);
          return json({ Id: result.id, Key: `${bucket}/${name}` });
        }),
        NO_PARSE,
      )
      .put(
        "/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/");
          const result = await upload(ctx, call, callerWrite(call.principal, bucket, name, true));
          return json({ Id: result.id, Key: `${bucket}/${name}` });
        }),
        NO_PARSE,
      )
      .get("/:bucket/*", download("/object/", asCallerAccess), NO_PARSE)
      .delete(
        "/:bucket/*",
        h(async (call) => {
          const { bucket, name } = bucketAndName(call.url, "/object/");
          const removed = await objects.removeObjects(ctx, call.principal, bucket, [name]);
          if (removed.length === 0) throw errors.noSuchKey();
          return json({ message: "Successfully deleted" });
        }),
        NO_PARSE,
      )
  );
}
