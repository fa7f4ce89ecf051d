// GET /admin/v1/stats: the server's live numbers as JSON, for the console's overview (Prometheus
// keeps /metrics). In-process numbers come from what the app mounted (request rates and p95 per API
// area from the gateway's metrics, open websockets from the realtime service); the rest is one
// round trip to the database (its size, the replication slots, stored bytes). Nothing here is on
// an ordinary request's path: only this endpoint pays for it.
import type { Database } from "../../db/pool.ts";
import type { MountedApp } from "../../service.ts";
import { VERSION } from "../../version.ts";

export interface StatsDeps {
  db: Database;
  /** Set once the app mounted the admin service (null: the numbers it owns are unknown). */
  app: () => MountedApp | null;
  /** The realtime slot names' prefix (config.realtime.slotName): each node adds its id. */
  slotPrefix: string;
}

export interface ServiceHealth {
  name: string;
  status: "up" | "down";
}

export async function readStats(deps: StatsDeps) {
  const app = deps.app();
  const started = performance.now();
  let database: { status: "up" | "down"; ms: number | null; size_bytes: number | null } = { status: "down", ms: null, size_bytes: null };
  let replication: { state: "streaming" | "idle" | "unknown"; slots: { name: string; active: boolean; lag_bytes: number | null }[] } = {
    state: "unknown",
    slots: [],
  };
  let storage: { used_bytes: number | null; objects: number | null } = { used_bytes: null, objects: null };
  try {
    // One round trip: three independent reads.
    const [row] = await deps.db.sql`
      select pg_database_size(current_database())::float8 as size,
             (select coalesce(json_agg(json_build_object('name', slot_name, 'active', active,
                       'lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8) order by slot_name), '[]'::json)
                from pg_replication_slots where starts_with(slot_name::text, ${deps.slotPrefix})) as slots,
             (select coalesce(sum((metadata ->> 'size')::bigint), 0)::float8 from storage.objects) as used,
             (select count(*)::float8 from storage.objects) as objects`;
    database = { status: "up", ms: Math.round((performance.now() - started) * 100) / 100, size_bytes: row!.size };
    const slots = row!.slots as { name: string; active: boolean; lag_bytes: number | null }[];
    replication = { state: slots.some((s) => s.active) ? "streaming" : "idle", slots };
    storage = { used_bytes: row!.used, objects: row!.objects };
  } catch {
    // The database is unreachable: the rest of the numbers still answer (that is when they matter).
  }
  const services: ServiceHealth[] = (app?.services ?? []).map((s) => ({ name: s.name, status: "up" }));
  let websockets = 0;
  for (const s of app?.services ?? []) {
    const n = s.stats?.().websocket_connections;
    if (typeof n === "number") websockets += n;
  }
  return {
    version: VERSION,
    uptime_s: Math.round(process.uptime()),
    started_at: new Date(app?.startedAt ?? Date.now() - process.uptime() * 1000).toISOString(),
    services: [...services, { name: "database", status: database.status }],
    areas: app?.metrics.recent() ?? {},
    websocket_connections: websockets,
    db_pool: { in_use: deps.db.active, max: deps.db.max },
    database,
    replication,
    storage,
    memory_rss_bytes: process.memoryUsage().rss,
  };
}
