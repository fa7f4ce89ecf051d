// A per-node cache of resolved admin sessions, so an admin request does not pay a database round
// trip to learn who is calling (bench/admin.ts: the uncached check cost ~70 µs of this process's CPU
// per request, the goal is under 50). Correctness rests on PostgreSQL's LISTEN/NOTIFY:
//
// - Every change that can end a session or change what it may do fires a trigger (migration 0021:
//   admin_sessions deleted or re-keyed, plinth.admins changed, an admin's user banned or deleted)
//   that notifies `plinth_admin_auth` with "inv" inside the changing transaction, so every node's
//   listener gets it at commit. On "inv" a node empties its cache.
// - A node trusts its cache only while it holds a lease: every HEARTBEAT_MS it notifies "hb:<node>"
//   through its pool and, when its own listener hears it, extends the lease to LEASE_MS after the
//   moment it *sent* it. PostgreSQL delivers notifications in commit order, so a node that has heard
//   a heartbeat has heard every invalidation committed before it; a node whose listener stalls or
//   drops (notifications sent while disconnected are lost) stops hearing heartbeats and falls back to
//   the database within LEASE_MS. A (re)connected listener empties the cache.
// - "At once on every node": an admin API write waits (settle) until every node it has heard from
//   acknowledges a barrier notified after the write committed — by commit order, each has then
//   dropped whatever the write invalidated — or until LEASE_MS passed, after which any node that did
//   not answer has lost its lease. Changes made elsewhere (the CLI, /auth/v1/admin) reach every node
//   within the notification's delivery time, and never later than LEASE_MS.
// - A lookup that raced an invalidation is not cached (a generation counter), and entries are only
//   positive: a refused token is always asked again.
// - Cached entries still end on their own: at the session's absolute expiry, when idle for the
//   configured timeout as far as this node knows, and after ENTRY_MS at the latest. last_seen_at is
//   still recorded in the database, at most every touchSeconds, off the request path.
import { randomUUID } from "node:crypto";
import type { Sql } from "../../db/pool.ts";
import type { Logger } from "../../log.ts";
import type { AdminActor } from "../authorize.ts";

export const CHANNEL = "plinth_admin_auth";
export const HEARTBEAT_MS = 500;
export const LEASE_MS = 2000;
/** Nodes heard from within this long are waited for by settle(). */
const PEER_MS = 5000;
const ENTRY_MS = 60_000;
const MAX_ENTRIES = 10_000;

/** A session as the database resolved it: who, until when, and when it was last seen there. */
export interface ResolvedSession {
  actor: AdminActor;
  expiresAt: number;
  lastSeenAt: number;
}

interface Entry extends ResolvedSession {
  cachedAt: number;
  /** When this node last recorded last_seen_at in the database (or learned it from there). */
  touchedAt: number;
}

export interface SessionCacheOptions {
  sql: Sql;
  log: Logger;
  /** The idle timeout and touch interval, read at each check (config changes apply at once). */
  idleMs: () => number;
  touchMs: () => number;
  /** Records last_seen_at for a token (off the request path). */
  touch: (token: string) => Promise<void>;
  /** Wall clock for session times (tests move it). */
  now?: () => number;
}

export class SessionCache {
  readonly node = randomUUID();
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private leaseUntil = 0;
  private sentAt = new Map<number, number>();
  private seq = 0;
  private readonly peers = new Map<string, number>();
  private readonly barriers = new Map<string, { waiting: Set<string>; done: () => void }>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private stopped = false;

  constructor(private readonly o: SessionCacheOptions) {}

  async start(): Promise<void> {
    const listening = await this.o.sql.listen(
      CHANNEL,
      (payload) => this.heard(payload),
      () => this.invalidate(),
    );
    this.unlisten = listening.unlisten;
    this.timer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref?.();
    await this.heartbeat();
    // Usually heard within a millisecond; until then every check goes to the database anyway.
    for (let i = 0; i < 50 && !this.leased; i++) await Bun.sleep(2);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.invalidate();
    for (const b of this.barriers.values()) b.done();
    await this.unlisten?.().catch(() => {});
  }

  /** The actor behind a token: from the cache when this node's lease allows, else from `load`. */
  async resolve(token: string, load: () => Promise<ResolvedSession | null>): Promise<AdminActor | null> {
    const now = this.o.now?.() ?? Date.now();
    const leased = performance.now() < this.leaseUntil;
    if (!leased) {
      if (this.entries.size) this.invalidate();
      return (await load())?.actor ?? null;
    }
    const hit = this.entries.get(token);
    if (hit && now < hit.expiresAt && now - hit.lastSeenAt < this.o.idleMs() && now - hit.cachedAt < ENTRY_MS) {
      hit.lastSeenAt = now;
      if (now - hit.touchedAt >= this.o.touchMs()) {
        hit.touchedAt = now;
        this.o.touch(token).catch((err) => this.o.log.warn("admin session: could not record last_seen_at", { error: (err as Error).message }));
      }
      return hit.actor;
    }
    if (hit) this.entries.delete(token);
    const generation = this.generation;
    const found = await load();
    if (found && generation === this.generation && performance.now() < this.leaseUntil) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      // The lookup recorded last_seen_at when it was older than the touch interval.
      this.entries.set(token, { ...found, lastSeenAt: Math.max(found.lastSeenAt, now), cachedAt: now, touchedAt: now });
    }
    return found?.actor ?? null;
  }

  /**
   * Returns once every node heard from recently has dropped what a committed change invalidated
   * (its listener acknowledged a barrier sent after the commit), or once LEASE_MS passed: a node
   * that did not answer by then no longer trusts its cache.
   */
  async settle(): Promise<void> {
    if (this.stopped) return;
    const id = randomUUID();
    const cutoff = performance.now() - PEER_MS;
    const waiting = new Set([...this.peers].filter(([, at]) => at >= cutoff).map(([node]) => node));
    waiting.add(this.node);
    const done = new Promise<void>((resolve) => {
      const timeout = setTimeout(finish, LEASE_MS + 100);
      const b = { waiting, done: finish };
      this.barriers.set(id, b);
      function finish() {
        clearTimeout(timeout);
        resolve();
      }
    });
    try {
      await this.o.sql`select pg_notify(${CHANNEL}, ${`bar:${this.node}:${id}`})`;
      await done;
    } catch {
      // Could not notify: nobody hears the barrier, so wait out the lease.
      await new Promise((r) => setTimeout(r, LEASE_MS + 100));
    } finally {
      this.barriers.delete(id);
    }
  }

  /** Entries cached now (for tests and stats). */
  get size(): number {
    return this.entries.size;
  }

  /** Whether this node currently trusts its cache. */
  get leased(): boolean {
    return performance.now() < this.leaseUntil;
  }

  private invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    const seq = ++this.seq;
    this.sentAt.set(seq, performance.now());
    // Heartbeats a stalled listener never hears are forgotten (the lease lapses meanwhile).
    if (this.sentAt.size > 64) this.sentAt.delete(this.sentAt.keys().next().value!);
    try {
      await this.o.sql`select pg_notify(${CHANNEL}, ${`hb:${this.node}:${seq}`})`;
    } catch {
      this.sentAt.delete(seq);
    }
  }

  private heard(payload: string): void {
    if (payload === "inv") return this.invalidate();
    const [kind, node, id, from] = payload.split(":");
    if (!node) return;
    if (kind === "hb") {
      this.peers.set(node, performance.now());
      if (node !== this.node) return;
      const seq = Number(id);
      const sent = this.sentAt.get(seq);
      if (sent !== undefined) this.leaseUntil = Math.max(this.leaseUntil, sent + LEASE_MS);
      for (const s of this.sentAt.keys()) if (s <= seq) this.sentAt.delete(s);
    } else if (kind === "bar" && id) {
      // Everything committed before the barrier has been heard (and any "inv" applied): say so.
      this.o.sql`select pg_notify(${CHANNEL}, ${`ack:${node}:${id}:${this.node}`})`.catch(() => {});
    } else if (kind === "ack" && node === this.node && id && from) {
      const b = this.barriers.get(id);
      if (!b) return;
      b.waiting.delete(from);
      if (b.waiting.size === 0) b.done();
    }
  }
}
