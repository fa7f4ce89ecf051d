// Broadcast replay for private channels, as Supabase Realtime offers it: a join with
// config.broadcast.replay {since: <epoch ms>, limit?: <n>} gets, right after its join reply, the
// newest `limit` (at most 25, default 25) stored broadcasts of its topic inserted since `since`,
// oldest first, each with meta {replayed: true, id}.
//
// What is stored (realtime.messages, private broadcasts only):
// - what realtime.send() and direct inserts write (they always were);
// - broadcasts whose sender asked for it with realtime-js's `persist` (websocket metadata
//   {"persist": true | {"ttl": s}} on a vsn 2 push, or httpSend's ?persist=true / ?persist[ttl]=s).
// Nothing else is written, so the broadcast path of channels nobody persists to is unchanged. Stored
// broadcasts go out live first and are written afterwards, many per statement (ReplayStore), in a
// transaction marked plinth.realtime_quiet so the announce trigger does not fan them out again.
//
// The replay query runs as the joining user with realtime.topic() set, so the SELECT policies on
// realtime.messages decide row by row: a user replays only what they may read.
import type { Database, Principal } from "../db/pool.ts";
import type { Logger } from "../log.ts";
import { actAs, rolledBack } from "./authz.ts";
import type { UserBroadcast } from "./protocol.ts";

/** Supabase's hard cap on replayed messages (Realtime.Messages @hard_limit); also its default. */
export const REPLAY_MAX = 25;
/** How long stored broadcasts are kept (Supabase drops its daily partitions after 72 hours). */
export const RETENTION_SECONDS = 3 * 24 * 3600;
/** DateTime.from_unix(…, :millisecond)'s range on Supabase; outside it the params are invalid. */
const MIN_SINCE = -377_705_116_800_000;
const MAX_SINCE = 253_402_300_799_999;
/** Writes are gathered for this long (or until BATCH_MAX are queued) before one INSERT. */
const FLUSH_MS = 20;
const BATCH_MAX = 200;
/** Messages queued beyond this while the database is slow are dropped (logged), not buffered. */
const QUEUE_MAX = 10_000;

export type ReplayRequest = { kind: "none" } | { kind: "invalid" } | { kind: "ok"; since: number; limit: number };

/**
 * config.broadcast.replay as Supabase reads it: absent → none; present on a private channel but not
 * an object → ignored; since must be an integer in range; limit absent/null → 25, else an integer
 * clamped to 1..25 (a negative or huge limit is clamped, not refused, as on Supabase).
 */
export function parseReplay(raw: unknown): ReplayRequest {
  if (raw === undefined) return { kind: "none" };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { kind: "none" };
  const { since, limit } = raw as Record<string, unknown>;
  if (typeof since !== "number" || !Number.isInteger(since) || since < MIN_SINCE || since > MAX_SINCE) return { kind: "invalid" };
  if (limit !== undefined && limit !== null && (typeof limit !== "number" || !Number.isInteger(limit))) return { kind: "invalid" };
  const n = typeof limit === "number" ? limit : REPLAY_MAX;
  return { kind: "ok", since, limit: Math.max(1, Math.min(n, REPLAY_MAX)) };
}

/** A `persist` request: keep for `ttl` seconds (null: the whole retention), or why it is refused. */
export type PersistRequest = { ok: true; ttl: number | null } | { ok: false; message: string };

export function parsePersist(raw: unknown): PersistRequest | null {
  if (raw === undefined || raw === null || raw === false) return null;
  if (raw === true) return { ok: true, ttl: null };
  if (typeof raw === "object" && !Array.isArray(raw)) {
    const ttl = (raw as Record<string, unknown>).ttl;
    if (ttl === undefined) return { ok: true, ttl: null };
    if (typeof ttl === "number" && Number.isInteger(ttl) && ttl > 0) return { ok: true, ttl: Math.min(ttl, RETENTION_SECONDS) };
  }
  return { ok: false, message: "persist must be true or {ttl: <positive integer seconds>}" };
}

/** `persist` from query parameters (httpSend): ?persist=true or ?persist[ttl]=<seconds>. */
export function persistFromQuery(params: URLSearchParams): PersistRequest | null {
  const ttl = params.get("persist[ttl]");
  if (ttl !== null) return /^\d{1,12}$/.test(ttl) ? parsePersist({ ttl: Number(ttl) }) : { ok: false, message: "persist[ttl] must be a positive integer" };
  const flag = params.get("persist");
  if (flag === null || flag === "false") return null;
  return flag === "true" ? { ok: true, ttl: null } : { ok: false, message: "persist must be true or false" };
}

/** Splits `persist` out of a push's metadata (what is left is forwarded to subscribers). */
export function takePersist(meta: string | null): { persist: unknown; meta: string | null } {
  if (meta === null || !meta.includes('"persist"')) return { persist: undefined, meta };
  try {
    const { persist, ...rest } = JSON.parse(meta) as Record<string, unknown>;
    return { persist, meta: Object.keys(rest).length ? JSON.stringify(rest) : null };
  } catch {
    return { persist: undefined, meta };
  }
}

export interface ReplayedMessage {
  id: string;
  event: string;
  /** JSON text of the payload, or null when the message is binary. */
  payload: string | null;
  binary: Uint8Array | null;
}

/** The replay query, as the joining user (RLS decides), oldest first. */
export function replayMessages(db: Database, principal: Principal, topic: string, since: number, limit: number): Promise<ReplayedMessage[]> {
  return rolledBack(db, async (tx) => {
    await actAs(tx, principal, topic);
    const rows = await tx<{ id: string; event: string | null; payload: string | null; binary_payload: Uint8Array | null }[]>`
      select id, event, payload::text as payload, binary_payload
        from realtime.messages
       where topic = ${topic} and private is true and extension = 'broadcast'
         and inserted_at >= to_timestamp(${since}::float8 / 1000)::timestamp
         and inserted_at < localtimestamp + interval '1 minute'
         and (payload is not null or binary_payload is not null)
         and (plinth_expires_at is null or plinth_expires_at > localtimestamp)
       order by inserted_at desc
       limit ${limit}`;
    return rows.reverse().map((r) => ({ id: r.id, event: r.event ?? "", payload: r.binary_payload ? null : r.payload, binary: r.binary_payload }));
  });
}

interface Pending {
  id: string;
  topic: string;
  b: UserBroadcast;
  /** Epoch milliseconds with microsecond fraction: the send order survives a batch. */
  at: number;
  ttl: number | null;
}

/** Batched writer of persisted private broadcasts. */
export class ReplayStore {
  private queue: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private last = 0;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
  ) {}

  store(id: string, topic: string, b: UserBroadcast, ttl: number | null): void {
    if (this.queue.length >= QUEUE_MAX) {
      this.log.warn("realtime: replay store queue full, message not stored", { topic });
      return;
    }
    let at = performance.timeOrigin + performance.now();
    if (at <= this.last) at = this.last + 0.001;
    this.last = at;
    this.queue.push({ id, topic, b, at, ttl });
    if (this.queue.length >= BATCH_MAX) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes what is queued; resolves when every write started so far is done. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue;
    this.queue = [];
    if (batch.length) this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  private async write(batch: Pending[]): Promise<void> {
    // One JSON document per batch; payload bodies are already JSON text, so they are spliced in.
    const rows = batch.map((p) => {
      const body = p.b.encoding === "json" ? Buffer.from(p.b.body).toString("utf8") : "null";
      const bin = p.b.encoding === "binary" ? JSON.stringify(Buffer.from(p.b.body).toString("base64")) : "null";
      return `{"id":${JSON.stringify(p.id)},"topic":${JSON.stringify(p.topic)},"event":${JSON.stringify(p.b.event)},"payload":${body},"bin":${bin},"at":${p.at},"ttl":${p.ttl ?? "null"}}`;
    });
    try {
      await this.db.sql.begin(async (tx) => {
        await tx`select set_config('plinth.realtime_quiet', 'on', true)`;
        await tx`
          insert into realtime.messages (id, topic, extension, event, payload, binary_payload, private, inserted_at, updated_at, plinth_expires_at)
          select r.id, r.topic, 'broadcast', r.event,
                 case when r.bin is null then r.payload end,
                 decode(r.bin, 'base64'), true, t.at, t.at,
                 case when r.ttl is not null then t.at + make_interval(secs => r.ttl) end
            from jsonb_to_recordset((${`[${rows.join(",")}]`}::text)::jsonb)
                 as r(id uuid, topic text, event text, payload jsonb, bin text, at float8, ttl int),
                 lateral (select to_timestamp(r.at / 1000)::timestamp as at) t`;
      });
    } catch (err) {
      this.log.error("realtime: storing broadcasts for replay failed", { error: err, count: batch.length });
    }
  }
}
