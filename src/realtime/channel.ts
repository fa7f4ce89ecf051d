// A joined channel (`realtime:<name>`) on one socket: its config (broadcast self/ack, presence key,
// private), the principal it acts as (refreshed by access_token pushes, closed when its token
// expires), its postgres_changes bindings, and its presence. Messages and status texts follow
// Supabase Realtime's (realtime_channel.ex) so client code matching on them keeps working.
import { readPolicies, canWrite, type Extension, type ReadPolicies } from "./authz.ts";
import { parseBinding, validateBinding, bindingId, type ChangeSubscriber, type Delivery, type PgBinding } from "./changes/subscriptions.ts";
import type { Connection } from "./connection.ts";
import { broadcastTopic, presenceTopic, topicKey } from "./hub.ts";
import { newPresenceRef, type PresenceEntry } from "./presence.ts";
import { encodeFrame, encodeUserBroadcast, jsonBody, type Frame, type UserBroadcast } from "./protocol.ts";
import { parsePersist, parseReplay, replayMessages, takePersist, type ReplayedMessage } from "./replay.ts";
import { checkChannelToken, type ChannelAuth } from "./tokens.ts";

/** How long a join with postgres_changes waits for the replication stream to be ready. */
const REPLICATION_WAIT_MS = 5_000;
/** Largest presence payload accepted (JSON bytes). */
const MAX_TRACK_BYTES = 64 * 1024;
/** Channels one socket may join, and postgres_changes entries one channel may list (Supabase: 100). */
const MAX_CHANNELS_PER_SOCKET = 100;
const MAX_CHANGES_PER_CHANNEL = 100;
/**
 * postgres_changes entries across all channels of one socket. Each entry's filters run for every
 * change of its table, so without this bound one socket could multiply that work by 100 channels.
 */
const MAX_CHANGES_PER_SOCKET = 100;
/** Timers cannot exceed 2^31-1 ms; long-lived tokens re-arm. */
const MAX_TIMER_MS = 2_147_000_000;

interface JoinConfig {
  legacy: boolean;
  isPrivate: boolean;
  selfBroadcast: boolean;
  ack: boolean;
  presenceKey: string;
  presenceEnabled: boolean;
  /** Raw postgres_changes entries, in the client's order. */
  changes: unknown[];
  /** config.broadcast.replay as sent (undefined when the key is absent). */
  replay: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const flag = (v: unknown): boolean => v === true || v === "true";

function joinConfig(payload: Record<string, unknown>, subTopic: string): JoinConfig {
  const config = payload.config;
  if (!isObject(config)) {
    // The legacy shape: no config; the topic itself names schema[:table[:filter]].
    const [schema, table, ...rest] = subTopic.split(":");
    const params: Record<string, unknown> = { schema };
    if (table) params.table = table;
    if (rest.length) params.filter = rest.join(":");
    return { legacy: true, isPrivate: false, selfBroadcast: false, ack: false, presenceKey: "", presenceEnabled: false, changes: [params], replay: undefined };
  }
  const broadcast = isObject(config.broadcast) ? config.broadcast : {};
  const presence = isObject(config.presence) ? config.presence : {};
  return {
    legacy: false,
    isPrivate: flag(config.private),
    selfBroadcast: flag(broadcast.self),
    ack: flag(broadcast.ack),
    presenceKey: typeof presence.key === "string" ? presence.key : "",
    presenceEnabled: flag(presence.enabled),
    changes: Array.isArray(config.postgres_changes) ? config.postgres_changes.filter((p) => p !== null && p !== undefined) : [],
    replay: "replay" in broadcast ? broadcast.replay : undefined,
  };
}

export class Channel implements ChangeSubscriber {
  readonly subTopic: string;
  readonly topicKey: string;
  readonly isPrivate: boolean;
  readonly selfBroadcast: boolean;
  readonly ack: boolean;
  readonly presenceKey: string;
  readonly legacy: boolean;
  presenceEnabled: boolean;
  bindings: PgBinding[] = [];
  /** How many postgres_changes entries the join listed (for the per-socket bound). */
  readonly requestedChanges: number;
  auth: ChannelAuth;
  principalKey: string;
  read: ReadPolicies | null = null;
  private writes = new Map<Extension, Promise<boolean>>();
  private presenceEntry: PresenceEntry | null = null;
  private expiry: ReturnType<typeof setTimeout> | null = null;
  active = false;
  closed = false;

  constructor(
    readonly conn: Connection,
    readonly topic: string,
    readonly joinRef: string | null,
    config: JoinConfig,
    auth: ChannelAuth,
  ) {
    this.subTopic = topic.slice("realtime:".length);
    this.isPrivate = config.isPrivate;
    this.topicKey = topicKey(this.subTopic, this.isPrivate);
    this.selfBroadcast = config.selfBroadcast;
    this.ack = config.ack;
    this.presenceKey = config.presenceKey || crypto.randomUUID();
    this.presenceEnabled = config.presenceEnabled;
    this.legacy = config.legacy;
    this.requestedChanges = config.changes.length;
    this.auth = auth;
    this.principalKey = principalKeyOf(auth);
  }

  get principal() {
    return this.auth.principal;
  }

  private get hub() {
    return this.conn.hub;
  }

  /** Public channels: everything. Private: what the read policies allow. */
  get canReadBroadcast(): boolean {
    return !this.isPrivate || (this.read?.broadcast ?? false);
  }

  get canReadPresence(): boolean {
    return !this.isPrivate || (this.read?.presence ?? false);
  }

  push(event: string, payloadJson: string, ref: string | null = null, joinRef: string | null = null): void {
    this.conn.send(encodeFrame(this.conn.vsn, joinRef, ref, this.topic, event, payloadJson));
  }

  system(extension: string, status: "ok" | "error", message: string): void {
    this.push("system", JSON.stringify({ extension, status, message, channel: this.subTopic }));
  }

  deliverChanges(changes: ReadonlyArray<Delivery>): void {
    if (this.closed) return;
    const send = () => {
      for (const { ids, type, dataJson } of changes) {
        if (this.legacy) this.push(type, dataJson);
        else this.push("postgres_changes", `{"ids":${JSON.stringify(ids)},"data":${dataJson}}`);
      }
    };
    if (changes.length > 1 && !this.conn.closed) this.conn.ws.cork(send);
    else send();
  }

  /** Goes live: membership, native topic subscriptions, token expiry. */
  activate(): void {
    this.active = true;
    this.hub.addMember(this);
    const ws = this.conn.ws;
    if (this.canReadBroadcast) ws.subscribe(broadcastTopic(this.topicKey, this.conn.vsn));
    if (this.presenceEnabled && this.canReadPresence) ws.subscribe(presenceTopic(this.topicKey, this.conn.vsn));
    this.armExpiry();
  }

  /** Leaves the channel; `notify` sends phx_close (the server ended it, not the client). */
  close(notify: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (this.expiry) clearTimeout(this.expiry);
    if (this.conn.channels.get(this.topic) === this) this.conn.channels.delete(this.topic);
    if (this.presenceEntry) this.hub.presenceLeave(this.topicKey, this.presenceEntry.ref);
    this.presenceEntry = null;
    if (this.active) {
      this.hub.removeMember(this);
      if (!this.conn.closed) {
        this.conn.ws.unsubscribe(broadcastTopic(this.topicKey, this.conn.vsn));
        this.conn.ws.unsubscribe(presenceTopic(this.topicKey, this.conn.vsn));
      }
    }
    if (notify) this.push("phx_close", "{}", this.joinRef, this.joinRef);
  }

  /**
   * An internal failure (the database went away mid-refresh, …): phx_error, as Phoenix sends when a
   * channel process crashes. realtime-js marks the channel errored and rejoins after a backoff.
   */
  fail(err: unknown): void {
    if (this.closed) return;
    this.conn.log.error("realtime: channel failed", { error: err, topic: this.subTopic });
    this.close(false);
    this.push("phx_error", "{}", this.joinRef, this.joinRef);
  }

  /** Ends the channel the way Supabase does: a system error message, then phx_close. */
  shutdown(message: string): void {
    if (this.closed) return;
    this.system("system", "error", message);
    this.close(true);
  }

  private armExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    const exp = this.auth.exp;
    if (exp === null) return;
    const ms = exp * 1000 - Date.now();
    this.expiry = setTimeout(
      () => {
        if (exp * 1000 > Date.now()) return this.armExpiry();
        this.shutdown(`Token has expired ${Math.max(0, Math.floor(Date.now() / 1000 - exp))} seconds ago`);
      },
      Math.min(Math.max(ms, 0), MAX_TIMER_MS),
    );
    this.expiry.unref?.();
  }

  // ---- client pushes ---------------------------------------------------------------------

  onPush(f: Frame): void {
    switch (f.event) {
      case "broadcast":
        if (typeof f.payload.event !== "string") return;
        return this.onBroadcast(
          {
            event: f.payload.event,
            encoding: "json",
            body: jsonBody(f.payload.payload === undefined ? {} : f.payload.payload),
            // A text-frame push carries `persist` beside the payload (binary pushes: in the metadata).
            meta: f.payload.persist === undefined ? null : JSON.stringify({ persist: f.payload.persist }),
          },
          f.ref,
        );
      case "presence":
        return void this.onPresence(f).catch((err) => {
          this.conn.log.error("realtime: presence failed", { error: err });
          this.conn.reply(f, "error");
        });
      case "access_token":
        return void this.onAccessToken(f.payload.access_token).catch((err) => this.fail(err));
      case "phx_leave":
        this.conn.reply(f, "ok");
        return this.close(false);
      default:
        // Unknown events are ignored, as Supabase does (no reply).
        return;
    }
  }

  private mayWrite(ext: Extension): Promise<boolean> {
    if (!this.isPrivate) return Promise.resolve(true);
    let p = this.writes.get(ext);
    if (!p) {
      p = canWrite(this.hub.db, this.principal, this.subTopic, ext).catch((err) => {
        this.conn.log.error("realtime: write policy check failed", { error: err });
        this.writes.delete(ext);
        return false;
      });
      this.writes.set(ext, p);
    }
    return p;
  }

  onBroadcast(b: UserBroadcast, ref: string | null): void {
    // `persist` asks for the message to be stored for replay (replay.ts); it is not forwarded.
    const taken = takePersist(b.meta);
    const persist = parsePersist(taken.persist);
    if (taken.meta !== b.meta) b = { ...b, meta: taken.meta };
    if (persist && !persist.ok) return this.replyError(ref, persist.message);
    if (persist && !this.isPrivate) return this.replyError(ref, "Broadcasts can only be stored on private channels");
    const send = () => {
      if (this.closed) return;
      if (persist) {
        // The stored message's id travels live in meta, as for messages from realtime.send().
        const id = crypto.randomUUID();
        b = { ...b, meta: JSON.stringify({ ...(b.meta ? JSON.parse(b.meta) : {}), id }) };
        this.hub.broadcastFrom(this, b);
        this.hub.replayStore.store(id, this.subTopic, b, persist.ttl);
      } else {
        this.hub.broadcastFrom(this, b);
      }
      if (this.ack) this.push("phx_reply", JSON.stringify({ status: "ok", response: {} }), ref, this.joinRef);
    };
    if (!this.isPrivate) return send();
    // Unauthorised private broadcasts are dropped without a reply, as on Supabase.
    void this.mayWrite("broadcast").then((ok) => ok && send());
  }

  /** realtime-js resolves send() with `response.error` when it asked to persist. */
  private replyError(ref: string | null, error: string): void {
    if (ref !== null) this.push("phx_reply", JSON.stringify({ status: "error", response: { error } }), ref, this.joinRef);
  }

  /** A replayed message, as Supabase pushes it: meta {replayed: true, id}; binary ones to vsn 2 only. */
  pushReplayed(m: ReplayedMessage): void {
    const meta = JSON.stringify({ replayed: true, id: m.id });
    if (m.binary) {
      if (this.conn.vsn !== "2.0.0") return;
      const frame = encodeUserBroadcast(this.topic, { event: m.event, encoding: "binary", body: m.binary, meta });
      if (frame) this.conn.send(frame);
      return;
    }
    this.push("broadcast", `{"type":"broadcast","event":${JSON.stringify(m.event)},"payload":${m.payload ?? "null"},"meta":${meta}}`);
  }

  private async onPresence(f: Frame): Promise<void> {
    const event = typeof f.payload.event === "string" ? f.payload.event.toLowerCase() : "";
    if (event === "untrack") {
      if (this.presenceEntry) this.hub.presenceLeave(this.topicKey, this.presenceEntry.ref);
      this.presenceEntry = null;
      return this.conn.reply(f, "ok");
    }
    if (event !== "track") return this.conn.reply(f, "error", { reason: "UnknownPresenceEvent" });
    const payload = f.payload.payload === undefined ? {} : f.payload.payload;
    if (!isObject(payload)) return this.conn.reply(f, "error", { reason: "Presence track payload must be a map" });
    if (this.isPrivate && !(await this.mayWrite("presence"))) return this.conn.reply(f, "error");
    if (this.closed) return;
    const { phx_ref: _r, phx_ref_prev: _p, ...meta } = payload;
    const metaJson = JSON.stringify(meta);
    if (Buffer.byteLength(metaJson) > MAX_TRACK_BYTES) return this.conn.reply(f, "error", { reason: "Track message size exceeded" });
    if (this.presenceEntry?.meta === metaJson) return this.conn.reply(f, "ok");
    const entry: PresenceEntry = { key: this.presenceKey, ref: newPresenceRef(), meta: metaJson, node: this.hub.cluster.nodeId };
    if (!this.presenceEnabled) {
      // Tracking turns presence on for this channel (Supabase does the same).
      this.presenceEnabled = true;
      if (this.canReadPresence) this.conn.ws.subscribe(presenceTopic(this.topicKey, this.conn.vsn));
    }
    this.hub.presenceJoin(this.topicKey, entry, this.presenceEntry);
    this.presenceEntry = entry;
    this.conn.reply(f, "ok");
  }

  private async onAccessToken(token: unknown): Promise<void> {
    if (typeof token !== "string" || token === "" || token.startsWith("sb_") || token === this.auth.token) return;
    const check = await checkChannelToken(token, this.conn.auth, this.hub.verifyToken);
    if (this.closed) return;
    if (!check.ok) return this.shutdown(check.message);
    this.auth = check.auth;
    this.principalKey = principalKeyOf(check.auth);
    this.writes.clear();
    if (this.isPrivate) {
      const before = this.read;
      const after = await readPolicies(this.hub.db, this.principal, this.subTopic);
      if (this.closed) return;
      this.read = after;
      if ((before?.broadcast && !after.broadcast) || (before?.presence && !after.presence)) {
        return this.shutdown(`You no longer have permission to read from this Channel topic: ${this.subTopic}`);
      }
    }
    this.armExpiry();
  }
}

function principalKeyOf(auth: ChannelAuth): string {
  return `${auth.principal.role}|${JSON.stringify(auth.principal.claims)}`;
}

/** Handles phx_join: checks, authorisation, postgres_changes validation, then the reply. */
export async function joinChannel(conn: Connection, f: Frame): Promise<void> {
  const { hub } = conn;
  if (!f.topic.startsWith("realtime:")) return conn.reply(f, "error", { reason: "unmatched topic" });
  const subTopic = f.topic.slice("realtime:".length);
  if (subTopic === "") return conn.reply(f, "error", { reason: "TopicNameRequired: You must provide a topic name" });
  // The token first (its signature check may await): everything below up to registering the
  // channel runs without a pause, so racing joins cannot both pass the per-socket limits.
  const check = await checkChannelToken(f.payload.access_token ?? f.payload.user_token, conn.auth, hub.verifyToken);
  if (conn.closed) return;

  // A second join of a topic replaces the first (the client rejoins after an error).
  conn.channels.get(f.topic)?.close(true);

  if (conn.channels.size >= MAX_CHANNELS_PER_SOCKET) return conn.reply(f, "error", { reason: "ChannelRateLimitReached: Too many channels" });
  const config = joinConfig(f.payload, subTopic);
  if (config.changes.length > MAX_CHANGES_PER_CHANNEL) {
    return conn.reply(f, "error", { reason: `InvalidJoinPayload: at most ${MAX_CHANGES_PER_CHANNEL} postgres_changes per channel` });
  }
  // Counted on what the other channels asked for (not only what they were granted), so entries
  // refused later for a bad filter still count: the bound is on what a client can make us parse.
  let onSocket = config.changes.length;
  for (const other of conn.channels.values()) onSocket += other.requestedChanges;
  if (onSocket > MAX_CHANGES_PER_SOCKET) {
    return conn.reply(f, "error", { reason: `InvalidJoinPayload: at most ${MAX_CHANGES_PER_SOCKET} postgres_changes per socket` });
  }
  if (!check.ok) return conn.reply(f, "error", { reason: `${check.code}: ${check.message}` });

  const ch = new Channel(conn, f.topic, f.joinRef, config, check.auth);
  conn.channels.set(f.topic, ch);
  try {
    const abandoned = () => ch.closed || conn.closed || conn.channels.get(f.topic) !== ch;

    if (ch.isPrivate) {
      ch.read = await readPolicies(hub.db, ch.principal, subTopic);
      if (abandoned()) return;
      if (!ch.read.broadcast && !ch.read.presence) {
        ch.close(false);
        return conn.reply(f, "error", { reason: `Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}` });
      }
    }

    // Replay (replay.ts), checked in Supabase's order: private channels only, broadcast read needed,
    // valid params; the messages are pushed after the join reply.
    let replayed: ReplayedMessage[] = [];
    if (config.replay !== undefined) {
      const refuse = (reason: string) => {
        ch.close(false);
        conn.reply(f, "error", { reason });
      };
      if (!ch.isPrivate) return refuse("UnableToReplayMessages: Replay is not allowed for public channels");
      if (!ch.read?.broadcast) return refuse(`Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`);
      const req = parseReplay(config.replay);
      if (req.kind === "invalid") return refuse("UnableToReplayMessages: Replay params are not valid");
      if (req.kind === "ok") {
        try {
          replayed = await replayMessages(hub.db, ch.principal, subTopic, req.since, req.limit);
        } catch (err) {
          conn.log.error("realtime: replay failed", { error: err, topic: subTopic });
          return refuse("UnableToReplayMessages: Realtime was unable to replay messages");
        }
        if (abandoned()) return;
      }
    }

    // Every entry gets an id in the reply, in order (realtime-js checks them index by index); the
    // subscriptions themselves are all-or-nothing, as on Supabase.
    const replyChanges: Array<Record<string, unknown>> = [];
    const bindings: PgBinding[] = [];
    let problem: string | null = null;
    for (const params of config.changes) {
      const parsed = parseBinding(params);
      const echo = isObject(params) ? params : {};
      if (!parsed.ok) {
        problem ??= parsed.message;
        replyChanges.push({ ...echo, id: bindingId(echo) });
        continue;
      }
      bindings.push(parsed.binding);
      replyChanges.push({ ...parsed.binding.params, id: parsed.binding.id });
    }
    if (bindings.length && problem === null) {
      for (const b of bindings) {
        problem = await validateBinding(hub.db.sql, b, ch.principal);
        if (problem) break;
      }
      if (problem === null && !(await hub.replicationReady(REPLICATION_WAIT_MS))) {
        problem = "Realtime was unable to connect to the database replication stream";
      }
      if (abandoned()) return;
    }
    if (problem === null) ch.bindings = bindings;

    ch.activate();
    conn.reply(f, "ok", { postgres_changes: replyChanges });
    for (const m of replayed) ch.pushReplayed(m);
    if (config.changes.length) {
      if (problem === null) ch.system("postgres_changes", "ok", "Subscribed to PostgreSQL");
      else ch.system("postgres_changes", "error", problem);
    }
    if (ch.presenceEnabled && ch.canReadPresence) ch.push("presence_state", hub.presence.stateJson(ch.topicKey));
  } catch (err) {
    // The connection answers the join with an error; the half-made channel must not linger.
    ch.close(false);
    throw err;
  }
}
