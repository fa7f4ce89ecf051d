// The realtime service: Supabase Realtime's websocket (Phoenix channels, vsn 1.0.0 and 2.0.0) at
// /realtime/v1/websocket on Bun's native websockets, and broadcast over HTTP under
// /realtime/v1/api. The gateway admits the upgrade request first (API key required, logged), then
// `upgrade` hands the socket to Bun with the caller's principal attached.
import type { Server, WebSocketHandler } from "bun";
import { json } from "../errors.ts";
import { requestContext } from "../lib/request-context.ts";
import type { Service, ServiceContext } from "../service.ts";
import { Connection } from "./connection.ts";
import { RealtimeHub, type RealtimeServer, type SocketData } from "./hub.ts";
import { realtimeRoutes } from "./broadcast-api.ts";
import { parseVsn } from "./protocol.ts";

export interface RealtimeServiceOptions {
  /** false: no replication stream (postgres_changes off). */
  replication?: boolean;
}

const SOCKET_PATHS = new Set(["/realtime/v1/websocket", "/realtime/v1/websocket/"]);

export async function createRealtimeService(ctx: ServiceContext, opts: RealtimeServiceOptions = {}): Promise<Service & { hub: RealtimeHub }> {
  const hub = new RealtimeHub({ ...ctx, replication: opts.replication });
  await hub.start();

  const websocket: WebSocketHandler<SocketData> = {
    open(ws) {
      const conn = new Connection(hub, ws);
      ws.data.conn = conn;
      hub.connections.add(conn);
    },
    message(ws, message) {
      ws.data.conn?.onMessage(message);
    },
    close(ws) {
      ws.data.conn?.onClose();
    },
    // Frames above the HTTP body limit close the socket with 1009.
    maxPayloadLength: ctx.config.http.bodyLimit,
    // The per-socket send buffer bound: past it Bun drops the frame and closes the socket.
    backpressureLimit: ctx.config.realtime.maxSocketBuffer,
    closeOnBackpressureLimit: true,
    // realtime-js heartbeats every 25 s; a socket silent for 60 s is dead.
    idleTimeout: 60,
    sendPings: false,
  };

  function upgrade(req: Request, server: Server<unknown>): Response | undefined {
    const url = new URL(req.url);
    if (!SOCKET_PATHS.has(url.pathname)) return undefined;
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json({ code: "websocket_required", message: "This endpoint only accepts websocket upgrades" }, 400);
    }
    const vsn = parseVsn(url.searchParams.get("vsn"));
    if (!vsn) return json({ code: "unsupported_vsn", message: "Unsupported serializer version (vsn): use 1.0.0 or 2.0.0" }, 400);
    const context = requestContext(req);
    if (!context?.principal) return json({ code: "no_api_key", message: "No API key found in request" }, 401);
    const typed = server as unknown as RealtimeServer;
    hub.server ??= typed;
    const data: SocketData = { conn: null, vsn, principal: context.principal, requestId: context.id };
    if (!typed.upgrade(req, { data })) return json({ code: "upgrade_failed", message: "Websocket upgrade failed" }, 400);
    // Bun ignores the response once the upgrade succeeded; it only feeds the gateway's request log.
    return new Response(null, { status: 101 });
  }

  return {
    name: "realtime",
    routes: realtimeRoutes(hub),
    websocket: websocket as WebSocketHandler<unknown>,
    upgrade,
    stop: () => hub.stop(),
    stats: () => ({ websocket_connections: hub.connections.size }),
    hub,
  };
}
