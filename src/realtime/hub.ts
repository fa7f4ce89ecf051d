// The node-wide state of the realtime service: which channels are on which topic, presence, the
// cluster bus, and the change pipeline. Channels call into it; it fans out.
//
// Fan-out of broadcasts and presence diffs uses Bun's native pub/sub (uWebSockets topics): every
// subscriber of a topic gets the same frame, so one native publish replaces a JS loop of sends.
// A channel subscribes to `b<vsn>:<topic key>` when it may receive broadcasts and to
// `p<vsn>:<topic key>` when it receives presence; `ws.publish` skips the sender (self: false).
// Topic keys separate public and private channels of the same name ("u:room" / "p:room"), as
// Supabase does. Slow sockets: Bun enforces the per-socket backpressure limit on every send and
// publish and closes a socket that exceeds it (see service.ts), so one stalled client never holds
// up the others.
import type { Server, ServerWebSocket } from "bun";
import type { Config } from "../config/schema.ts";
import type { Database, Principal } from "../db/pool.ts";
import type { Logger } from "../log.ts";
import type { JwtResult } from "../lib/jwt.ts";
import { keyRingFor } from "../keys/ring.ts";
import { canWrite } from "./authz.ts";
import type { Channel } from "./channel.ts";
import { ClusterBus, type DatabaseMessage, type PeerMessage } from "./cluster.ts";
import type { DataChangeSink } from "./changes/data-change.ts";
import { ChangeDispatcher } from "./changes/dispatcher.ts";
import { RelationCache } from "./changes/relations.ts";
import { startReplication, type ReplicationStream } from "./changes/replication.ts";
import { SubscriptionIndex } from "./changes/subscriptions.ts";
import type { Connection } from "./connection.ts";
import { diffJson, PresenceStore, type PresenceEntry } from "./presence.ts";
import { encodeFrame, encodeUserBroadcast, jsonBody, userBroadcastJson, type UserBroadcast, type Vsn } from "./protocol.ts";
import { ReplayStore } from "./replay.ts";

export interface SocketData {
  conn: Connection | null;
  vsn: Vsn;
  principal: Principal;
  requestId: string;
}

export type RealtimeServer = Server<SocketData>;
export type RealtimeSocket = ServerWebSocket<SocketData>;

export interface HubOptions {
  config: Config;
  db: Database;
  log: Logger;
  jwtSecret: string;
  dbUrl: string;
  /** Set false to run without a replication stream (tests of broadcast/presence only). */
  replication?: boolean;
}

export const PUBLICATION = "supabase_realtime";
const REPLICATION_IDLE_MS = 30_000;

export const topicKey = (subTopic: string, isPrivate: boolean) => `${isPrivate ? "p" : "u"}:${subTopic}`;
const vsnDigit = (v: Vsn) => (v === "2.0.0" ? "2" : "1");
export const broadcastTopic = (key: string, v: Vsn) => `b${vsnDigit(v)}:${key}`;
export const presenceTopic = (key: string, v: Vsn) => `p${vsnDigit(v)}:${key}`;

export class RealtimeHub {
  readonly config: Config;
  readonly db: Database;
  readonly log: Logger;
  readonly jwtSecret: string;
  /** Verifies a channel's access token against the node's keys (src/keys/ring.ts). */
  readonly verifyToken: (token: string, leewaySeconds: number) => Promise<JwtResult>;
  server: RealtimeServer | null = null;
  readonly connections = new Set<Connection>();
  readonly presence = new PresenceStore();
  readonly index = new SubscriptionIndex();
  readonly relations: RelationCache;
  readonly dispatcher: ChangeDispatcher;
  readonly cluster: ClusterBus;
  /** Writes persisted private broadcasts for replay (replay.ts). */
  readonly replayStore: ReplayStore;
  private replication: ReplicationStream | null = null;
  private readonly members = new Map<string, Set<Channel>>();
  private pruner: ReturnType<typeof setInterval> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly opts: HubOptions) {
    this.config = opts.config;
    this.db = opts.db;
    this.log = opts.log;
    this.jwtSecret = opts.jwtSecret;
    const ring = keyRingFor(opts.db, opts);
    this.replayStore = new ReplayStore(opts.db, opts.log);
    this.verifyToken = (token, leeway) => ring.verify(token, leeway);
    this.relations = new RelationCache(opts.db.sql);
    this.dispatcher = new ChangeDispatcher({
      sql: opts.db.sql,
      log: opts.log,
      index: this.index,
      relations: this.relations,
      onBacklog: (tooLong) => (tooLong ? this.replication?.pause() : this.replication?.resume()),
    });
    this.cluster = new ClusterBus(opts.db.sql, opts.log, {
      onPeerMessage: (from, m) => this.onPeerMessage(from, m),
      onDatabaseMessage: (m) => this.onDatabaseMessage(m),
      onPeerHello: (peer) => this.sendPresenceSnapshot(peer),
      onPeerGone: (peer) => this.dropPeer(peer),
    });
  }

  async start(): Promise<void> {
    await this.cluster.start();
    // realtime.messages keeps what realtime.send() wrote, and persisted broadcasts, for three days
    // (Supabase drops its daily partitions after about as long), a persisted broadcast with a ttl
    // until it expires; every node prunes, the deletes are idempotent.
    this.pruner = setInterval(() => {
      void this.db.sql`delete from realtime.messages
        where inserted_at < now() - interval '3 days' or plinth_expires_at < localtimestamp`.catch(() => {});
    }, 3_600_000);
    this.pruner.unref?.();
  }

  /**
   * The replication stream runs only while this node has postgres_changes subscribers (and for
   * REPLICATION_IDLE_MS after the last one left): no walsender decodes WAL for nobody, and a node
   * without subscribers holds no slot (which would, for one, block DROP DATABASE).
   */
  private ensureReplication(): void {
    if (this.opts.replication === false) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.replication ??= startReplication({
      url: this.opts.dbUrl,
      slotName: `${this.config.realtime.slotName}_${this.cluster.nodeId}`,
      publication: PUBLICATION,
      log: this.log,
      sql: this.db.sql,
      onMessage: (m) => this.dispatcher.push(m),
    });
  }

  /**
   * Server-side listeners of the change stream (plugins' data.change): while one listens, the stream
   * runs with no subscriber too. A listener that appears later starts it at the next subscriber.
   */
  setDataChangeSink(sink: DataChangeSink | null): void {
    this.dispatcher.dataChanges = sink;
    if (sink?.listening()) this.ensureReplication();
  }

  private scheduleReplicationStop(): void {
    if (!this.replication || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.index.size > 0 || this.dispatcher.dataChanges?.listening()) return;
      const r = this.replication;
      this.replication = null;
      void r?.stop();
    }, REPLICATION_IDLE_MS);
    this.idleTimer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.pruner) clearInterval(this.pruner);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const conn of [...this.connections]) conn.close(1001, "server shutting down");
    await this.replayStore.flush();
    await this.cluster.stop().catch(() => {});
    await this.replication?.stop();
    await this.dispatcher.idle();
  }

  /** Waits (bounded) for the replication stream, so a change committed after a join reply is seen. */
  replicationReady(timeoutMs: number): Promise<boolean> {
    this.ensureReplication();
    return this.replication ? this.replication.whenReady(timeoutMs) : Promise.resolve(false);
  }

  // ---- membership ------------------------------------------------------------------------

  addMember(ch: Channel): void {
    let set = this.members.get(ch.topicKey);
    if (!set) this.members.set(ch.topicKey, (set = new Set()));
    set.add(ch);
    if (ch.bindings.length) this.index.add(ch);
  }

  removeMember(ch: Channel): void {
    const set = this.members.get(ch.topicKey);
    set?.delete(ch);
    if (set?.size === 0) this.members.delete(ch.topicKey);
    if (ch.bindings.length) {
      this.index.remove(ch);
      if (this.index.size === 0) this.scheduleReplicationStop();
    }
  }

  memberCount(key: string): number {
    return this.members.get(key)?.size ?? 0;
  }

  // ---- broadcast -------------------------------------------------------------------------

  /** A broadcast from a channel on this node: its topic's local subscribers, then the peers. */
  broadcastFrom(ch: Channel, b: UserBroadcast): void {
    const exclude = ch.selfBroadcast ? null : ch.conn.ws;
    this.fanOut(ch.topicKey, ch.subTopic, b, exclude, ch.conn.vsn);
    this.cluster.send(peerBroadcast(ch.topicKey, b));
  }

  /** A broadcast from the REST API or SQL: everyone on the topic, on every node. */
  broadcastToTopic(subTopic: string, isPrivate: boolean, b: UserBroadcast, toPeers: boolean): void {
    const key = topicKey(subTopic, isPrivate);
    this.fanOut(key, subTopic, b, null, null);
    if (toPeers) this.cluster.send(peerBroadcast(key, b));
  }

  private fanOut(key: string, subTopic: string, b: UserBroadcast, exclude: RealtimeSocket | null, excludeVsn: Vsn | null): void {
    const server = this.server;
    if (!server) return;
    const topic = `realtime:${subTopic}`;
    const t1 = broadcastTopic(key, "1.0.0");
    if (server.subscriberCount(t1) > 0) {
      const json = userBroadcastJson(b);
      if (json !== null) this.publish(t1, encodeFrame("1.0.0", null, null, topic, "broadcast", json), excludeVsn === "1.0.0" ? exclude : null);
    }
    const t2 = broadcastTopic(key, "2.0.0");
    if (server.subscriberCount(t2) > 0) {
      let frame: string | Uint8Array | null = encodeUserBroadcast(topic, b);
      if (frame === null) {
        // A header field over 255 bytes cannot be framed in binary: fall back to a text frame.
        const json = userBroadcastJson(b);
        frame = json === null ? null : encodeFrame("2.0.0", null, null, topic, "broadcast", json);
      }
      if (frame !== null) this.publish(t2, frame, excludeVsn === "2.0.0" ? exclude : null);
    }
  }

  private publish(topic: string, frame: string | Uint8Array, exclude: RealtimeSocket | null): void {
    if (exclude) exclude.publish(topic, frame);
    else this.server?.publish(topic, frame);
  }

  /** REST/SQL senders of private messages need the INSERT policy on realtime.messages. */
  canSendPrivate(principal: Principal, subTopic: string): Promise<boolean> {
    return canWrite(this.db, principal, subTopic, "broadcast");
  }

  // ---- presence --------------------------------------------------------------------------

  presenceJoin(key: string, entry: PresenceEntry, replaced: PresenceEntry | null): void {
    if (replaced) this.presence.leave(key, replaced.ref);
    this.presence.join(key, entry);
    this.publishDiff(key, [entry], replaced ? [replaced] : []);
    if (replaced) this.cluster.send(["pl", key, replaced.key, replaced.ref]);
    this.cluster.send(["pj", key, entry.key, entry.ref, entry.meta]);
  }

  presenceLeave(key: string, ref: string): void {
    const e = this.presence.leave(key, ref);
    if (!e) return;
    this.publishDiff(key, [], [e]);
    this.cluster.send(["pl", key, e.key, e.ref]);
  }

  private publishDiff(key: string, joins: PresenceEntry[], leaves: PresenceEntry[]): void {
    const server = this.server;
    if (!server || (joins.length === 0 && leaves.length === 0)) return;
    const subTopic = key.slice(2);
    const payload = diffJson(joins, leaves);
    for (const v of ["1.0.0", "2.0.0"] as const) {
      const t = presenceTopic(key, v);
      if (server.subscriberCount(t) > 0) server.publish(t, encodeFrame(v, null, null, `realtime:${subTopic}`, "presence_diff", payload));
    }
  }

  private sendPresenceSnapshot(peer: string): void {
    const rows = this.presence.entriesOf(this.cluster.nodeId);
    for (let i = 0; i < rows.length; i += 40) this.cluster.send(["ps", peer, rows.slice(i, i + 40)], true);
  }

  private dropPeer(peer: string): void {
    for (const [key, left] of this.presence.dropNode(peer)) this.publishDiff(key, [], left);
  }

  private onPeerMessage(from: string, m: PeerMessage): void {
    switch (m[0]) {
      case "b": {
        const [, key, event, enc, body, meta] = m;
        const b: UserBroadcast = {
          event,
          encoding: enc === 1 ? "json" : "binary",
          body: enc === 1 ? new TextEncoder().encode(body) : new Uint8Array(Buffer.from(body, "base64")),
          meta,
        };
        this.fanOut(key, key.slice(2), b, null, null);
        return;
      }
      case "pj": {
        const [, key, pkey, ref, meta] = m;
        const entry: PresenceEntry = { key: pkey, ref, meta, node: from };
        this.presence.join(key, entry);
        this.publishDiff(key, [entry], []);
        return;
      }
      case "pl": {
        const e = this.presence.leave(m[1], m[3]);
        if (e) this.publishDiff(m[1], [], [e]);
        return;
      }
      case "ps": {
        const byTopic = new Map<string, PresenceEntry[]>();
        for (const [key, pkey, ref, meta] of m[2]) {
          if (this.presence.has(key, ref)) continue;
          const entry: PresenceEntry = { key: pkey, ref, meta, node: from };
          this.presence.join(key, entry);
          let list = byTopic.get(key);
          if (!list) byTopic.set(key, (list = []));
          list.push(entry);
        }
        for (const [key, joins] of byTopic) this.publishDiff(key, joins, []);
        return;
      }
    }
  }

  private onDatabaseMessage(m: DatabaseMessage): void {
    const b: UserBroadcast = { event: m.event, encoding: "json", body: jsonBody(m.payload), meta: JSON.stringify({ id: m.id }) };
    // Every node hears the database's NOTIFY, so no relaying to peers.
    this.broadcastToTopic(m.topic, m.private, b, false);
  }
}

function peerBroadcast(key: string, b: UserBroadcast): PeerMessage {
  const body = b.encoding === "json" ? new TextDecoder().decode(b.body) : Buffer.from(b.body).toString("base64");
  return ["b", key, b.event, b.encoding === "json" ? 1 : 0, body, b.meta];
}
