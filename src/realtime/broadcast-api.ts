// Broadcast over HTTP, as Supabase Realtime serves it:
// - POST /realtime/v1/api/broadcast {messages: [{topic, event, payload, private?}]} → 202
//   (realtime-js's send() falls back to it when the channel is not joined);
// - POST /realtime/v1/api/broadcast/<topic>/events/<event>[?private=true] with a JSON or
//   application/octet-stream body → 202 (httpSend()).
// Private messages need the caller to pass the INSERT policies on realtime.messages for the topic;
// the batch endpoint skips the ones that do not (still 202, as Supabase), the single one answers 403.
// The single endpoint also takes ?persist=true / ?persist[ttl]=<s> (httpSend's `persist`): the
// message is stored for replay (replay.ts); the batch endpoint does not persist (realtime-js says so).
import { Elysia } from "elysia";
import { z } from "zod";
import { requestContext } from "../lib/request-context.ts";
import { PlinthError } from "../errors.ts";
import type { Principal } from "../db/pool.ts";
import type { RealtimeHub } from "./hub.ts";
import { jsonBody, type UserBroadcast } from "./protocol.ts";
import { persistFromQuery } from "./replay.ts";

const batchSchema = z.object({
  messages: z
    .array(
      z.object({
        topic: z.string().min(1),
        event: z.string().min(1),
        payload: z.unknown().optional(),
        private: z.boolean().optional(),
      }),
    )
    .max(100),
});

const accepted = () => new Response(null, { status: 202 });

function principalOf(request: Request): Principal {
  const p = requestContext(request)?.principal;
  if (!p) throw new PlinthError(401, "no_api_key", "No API key found in request");
  return p;
}

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new PlinthError(400, "bad_json", "Request body could not be parsed");
  }
}

export function realtimeRoutes(hub: RealtimeHub) {
  return new Elysia({ prefix: "/realtime/v1/api" })
    .post(
      "/broadcast",
      async ({ request }) => {
        const principal = principalOf(request);
        const parsed = batchSchema.safeParse(await readJson(request));
        if (!parsed.success) throw new PlinthError(422, "invalid_request", "Body must be {messages: [{topic, event, payload, private?}]}");
        for (const m of parsed.data.messages) {
          if (m.private && !(await hub.canSendPrivate(principal, m.topic))) continue;
          const b: UserBroadcast = { event: m.event, encoding: "json", body: jsonBody(m.payload ?? {}), meta: null };
          hub.broadcastToTopic(m.topic, m.private ?? false, b, true);
        }
        return accepted();
      },
      { parse: "none" },
    )
    .post(
      "/broadcast/:topic/events/:event",
      async ({ request, params }) => {
        const principal = principalOf(request);
        const url = new URL(request.url);
        const isPrivate = url.searchParams.get("private") === "true";
        const persist = persistFromQuery(url.searchParams);
        if (persist && !persist.ok) throw new PlinthError(400, "invalid_request", persist.message);
        if (persist && !isPrivate) throw new PlinthError(400, "invalid_request", "Broadcasts can only be stored on private channels");
        const topic = decodeURIComponent(params.topic);
        const event = decodeURIComponent(params.event);
        const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
        let b: UserBroadcast;
        if (type === "application/octet-stream") {
          b = { event, encoding: "binary", body: new Uint8Array(await request.arrayBuffer()), meta: null };
        } else if (type === "application/json" || type === "") {
          b = { event, encoding: "json", body: jsonBody(await readJson(request)), meta: null };
        } else {
          throw new PlinthError(415, "unsupported_media_type", "Content-Type must be application/json or application/octet-stream");
        }
        if (isPrivate && !(await hub.canSendPrivate(principal, topic))) {
          throw new PlinthError(403, "unauthorized", `You do not have permissions to write to this Channel topic: ${topic}`);
        }
        if (persist) {
          const id = crypto.randomUUID();
          b = { ...b, meta: JSON.stringify({ id }) };
          hub.broadcastToTopic(topic, isPrivate, b, true);
          hub.replayStore.store(id, topic, b, persist.ttl);
        } else {
          hub.broadcastToTopic(topic, isPrivate, b, true);
        }
        return accepted();
      },
      { parse: "none" },
    );
}
