// GET /admin/v1/stats (stats:read) and GET /admin/v1/logs?level&area&after&limit (logs:read): what
// the console's overview and logs screens show. See stats.ts and logs.ts. Both are polled (every 2 s
// and 1 s), so a successful read is audited once per session and minute (audit/poll-window.ts).
import { Elysia } from "elysia";
import type { Logger } from "../../log.ts";
import { adminRoute, type AdminHttpDeps } from "../route.ts";
import { parseLogQuery, readLogs } from "./logs.ts";
import { readStats, type StatsDeps } from "./stats.ts";

const POLL_WINDOW_MS = 60_000;

export const observeRoutes = (deps: AdminHttpDeps, stats: StatsDeps, log: Logger) =>
  new Elysia()
    .get(
      "/stats",
      adminRoute(deps, { action: "stats.read", capability: "stats:read", pollWindowMs: POLL_WINDOW_MS }, async () => readStats(stats)),
    )
    .get(
      "/logs",
      adminRoute(deps, { action: "logs.read", capability: "logs:read", pollWindowMs: POLL_WINDOW_MS }, async (c) =>
        readLogs(log.recent, parseLogQuery(c.query)),
      ),
    );
