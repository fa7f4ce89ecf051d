// /storage/v1/upload/resumable: the TUS 1.0 wire protocol over the Tus domain (tus.ts). TUS clients
// read statuses and headers, so errors here keep their real HTTP status.
import { Elysia } from "elysia";
import type { StorageContext } from "../context.ts";
import { errors } from "../errors.ts";
import { TUS_EXTENSIONS, TUS_VERSION, type Tus } from "../tus.ts";
import { handler, NO_PARSE, PREFIX, truthy, type Call } from "./handler.ts";

const BASE = `${PREFIX}/upload/resumable`;

export function tusRoutes(ctx: StorageContext, tus: Tus) {
  const common = { "tus-resumable": TUS_VERSION, "cache-control": "no-store" };
  const h = (fn: (call: Call) => Promise<Response>) =>
    handler(ctx, async (call) => {
      if (call.request.method !== "OPTIONS" && call.request.headers.get("tus-resumable") !== TUS_VERSION) {
        throw Object.assign(errors.tus(412, "Unsupported TUS version"), { headers: { "tus-version": TUS_VERSION } });
      }
      const res = await fn(call);
      for (const [k, v] of Object.entries(common)) res.headers.set(k, v);
      return res;
    });
  const idOf = (call: Call) => call.url.pathname.slice(BASE.length + 1);
  const offsetBody = (call: Call) => {
    const type = call.request.headers.get("content-type");
    if (type !== "application/offset+octet-stream") throw errors.tus(415, "Content-Type must be application/offset+octet-stream");
    return call.request.body;
  };

  return new Elysia({ prefix: BASE })
    .options(
      "",
      h(
        async () =>
          new Response(null, {
            status: 204,
            headers: { "tus-version": TUS_VERSION, "tus-extension": TUS_EXTENSIONS, "tus-max-size": String(ctx.globalFileSizeLimit) },
          }),
      ),
      NO_PARSE,
    )
    .options(
      "/",
      h(async () => new Response(null, { status: 204, headers: { "tus-version": TUS_VERSION, "tus-extension": TUS_EXTENSIONS } })),
      NO_PARSE,
    )
    .post(
      "",
      h(async (call) => {
        const { id, state } = await tus.create(call.principal, {
          uploadLength: call.request.headers.get("upload-length"),
          uploadMetadata: call.request.headers.get("upload-metadata"),
          upsert: truthy(call.request.headers.get("x-upsert")),
        });
        const headers: Record<string, string> = {
          location: `${call.url.origin}${BASE}/${id}`,
          "upload-expires": new Date(Date.parse(state.createdAt) + 24 * 3600 * 1000).toUTCString(),
        };
        // creation-with-upload: the POST may carry the first bytes.
        if (call.request.headers.get("content-type") === "application/offset+octet-stream" && call.request.body) {
          headers["upload-offset"] = String(await tus.append(call.principal, id, "0", call.request.body));
        }
        return new Response(null, { status: 201, headers });
      }),
      NO_PARSE,
    )
    .head(
      "/:id",
      h(async (call) => {
        const s = await tus.head(call.principal, idOf(call));
        return new Response(null, {
          status: 200,
          headers: { "upload-offset": String(s.offset), "upload-length": String(s.length), "upload-expires": s.expires.toUTCString() },
        });
      }),
      NO_PARSE,
    )
    .patch(
      "/:id",
      h(async (call) => {
        const offset = await tus.append(call.principal, idOf(call), call.request.headers.get("upload-offset"), offsetBody(call));
        return new Response(null, { status: 204, headers: { "upload-offset": String(offset) } });
      }),
      NO_PARSE,
    )
    .delete(
      "/:id",
      h(async (call) => {
        await tus.terminate(call.principal, idOf(call));
        return new Response(null, { status: 204 });
      }),
      NO_PARSE,
    );
}
