// Nodes of one database talk through PostgreSQL LISTEN/NOTIFY on channel `plinth_realtime`:
// broadcasts and presence changes made on one node reach the sockets of all others, and
// realtime.send() / inserts into realtime.messages (announced by a trigger, see 0006) reach every
// node. Each node sends a heartbeat; a node that stops beating (crash, network loss) is forgotten
// after PEER_TIMEOUT_MS and its presences leave. A node that starts (or whose LISTEN connection
// reconnects) says hello and every peer answers with its local presences, so presence_state is
// complete everywhere.
//
// Cost control: messages published in the same tick share one NOTIFY (up to ~7.5 kB), a NOTIFY is
// committed without waiting for the WAL flush (it carries no data worth a fsync), payloads too big
// for NOTIFY go through plinth.realtime_relay, and nothing is published while no peer is known.
import { randomBytes } from "node:crypto";
import type { Sql } from "../db/pool.ts";
import type { Logger } from "../log.ts";

export const CHANNEL = "plinth_realtime";
const HEARTBEAT_MS = 5_000;
const PEER_TIMEOUT_MS = 20_000;
const MAX_NOTIFY_BYTES = 7_500;

/** What nodes say to each other (JSON arrays on the wire, tagged by their first element). */
export type PeerMessage =
  | ["hello"]
  | ["hb"]
  | ["bye"]
  /** A broadcast: topic key, event, encoding (1 json, 0 binary as base64), body, meta JSON or null. */
  | ["b", string, string, 0 | 1, string, string | null]
  /** Presence join: topic key, presence key, phx_ref, meta JSON. */
  | ["pj", string, string, string, string]
  /** Presence leave: topic key, presence key, phx_ref. */
  | ["pl", string, string, string]
  /** Presence snapshot for one peer (answer to hello): target node, entries. */
  | ["ps", string, Array<[string, string, string, string]>];

/** A message inserted into realtime.messages (realtime.send), as the trigger announces it. */
export interface DatabaseMessage {
  topic: string;
  private: boolean;
  event: string;
  id: string;
  payload: unknown;
}

export interface ClusterHandlers {
  onPeerMessage(from: string, msg: PeerMessage): void;
  onDatabaseMessage(msg: DatabaseMessage): void;
  /** A peer joined (or came back): it needs our presences. */
  onPeerHello(peer: string): void;
  /** A peer left or timed out: drop what it owned. */
  onPeerGone(peer: string): void;
  /** Our LISTEN (re)connected: we may have missed messages, so peers are asked again. */
  onListening?(): void;
}

export class ClusterBus {
  readonly nodeId = randomBytes(6).toString("hex");
  private readonly peers = new Map<string, number>();
  private outbox: PeerMessage[] = [];
  private flushScheduled = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private stopped = false;

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly handlers: ClusterHandlers,
  ) {}

  get peerCount(): number {
    return this.peers.size;
  }

  async start(): Promise<void> {
    const sub = await this.sql.listen(
      CHANNEL,
      (payload) => this.receive(payload),
      () => {
        // Called on the first LISTEN and after every reconnect of the listening connection.
        this.send(["hello"], true);
        this.handlers.onListening?.();
      },
    );
    this.unlisten = () => sub.unlisten();
    this.timer = setInterval(() => {
      this.send(["hb"], true);
      const now = Date.now();
      for (const [peer, seen] of this.peers) {
        if (now - seen > PEER_TIMEOUT_MS) {
          this.peers.delete(peer);
          this.log.warn("realtime: peer node timed out", { peer });
          this.handlers.onPeerGone(peer);
        }
      }
      void this.sql`delete from plinth.realtime_relay where created_at < now() - interval '1 minute'`.catch(() => {});
    }, HEARTBEAT_MS);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.send(["bye"], true);
    await this.flush();
    await this.unlisten?.().catch(() => {});
  }

  /** Queues a message for the peers; `always` sends even when no peer is known (control traffic). */
  send(msg: PeerMessage, always = false): void {
    if (!always && this.peers.size === 0) return;
    this.outbox.push(msg);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const msgs = this.outbox;
    this.outbox = [];
    if (msgs.length === 0) return;
    const head = `{"n":"${this.nodeId}","m":[`;
    let parts: string[] = [];
    let size = head.length + 2;
    const bodies: string[] = [];
    for (const m of msgs) {
      const text = JSON.stringify(m);
      if (Buffer.byteLength(text) + head.length + 2 > MAX_NOTIFY_BYTES) {
        if (parts.length) bodies.push(`${head}${parts.join(",")}]}`);
        parts = [];
        size = head.length + 2;
        try {
          bodies.push(await this.relay(text));
        } catch (err) {
          this.log.warn("realtime: cluster relay failed", { error: err });
        }
        continue;
      }
      if (size + text.length + 1 > MAX_NOTIFY_BYTES && parts.length) {
        bodies.push(`${head}${parts.join(",")}]}`);
        parts = [];
        size = head.length + 2;
      }
      parts.push(text);
      size += Buffer.byteLength(text) + 1;
    }
    if (parts.length) bodies.push(`${head}${parts.join(",")}]}`);
    for (const body of bodies) {
      try {
        // No fsync for a notification: synchronous_commit off for this one implicit transaction.
        await this.sql`select set_config('synchronous_commit', 'off', true), pg_notify(${CHANNEL}, ${body})`;
      } catch (err) {
        this.log.warn("realtime: cluster notify failed", { error: err });
      }
    }
  }

  /** A message too big for NOTIFY: store it, announce its id. */
  private async relay(text: string): Promise<string> {
    const [row] = await this.sql<{ id: string }[]>`insert into plinth.realtime_relay (body) values (${text}) returning id::text`;
    return `{"n":"${this.nodeId}","r":${JSON.stringify(row!.id)}}`;
  }

  private receive(payload: string): void {
    let parsed: { n?: string; m?: PeerMessage[]; r?: string; s?: unknown[]; sref?: unknown[] };
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    if (parsed.s) return this.databaseMessage(parsed.s);
    if (parsed.sref) return void this.fetchDatabaseMessage(parsed.sref);
    const from = parsed.n;
    if (!from || from === this.nodeId) return;
    const known = this.peers.has(from);
    this.peers.set(from, Date.now());
    if (parsed.r) return void this.fetchRelayed(from, parsed.r);
    for (const m of parsed.m ?? []) this.peerMessage(from, m, known);
  }

  private peerMessage(from: string, m: PeerMessage, known: boolean): void {
    switch (m[0]) {
      case "hello":
        this.send(["hb"], true);
        this.handlers.onPeerHello(from);
        return;
      case "hb":
        // A beat from a peer we did not know (we restarted our LISTEN, or it came back): sync.
        if (!known) this.handlers.onPeerHello(from);
        return;
      case "bye":
        this.peers.delete(from);
        this.handlers.onPeerGone(from);
        return;
      case "ps":
        if (m[1] !== this.nodeId) return;
        this.handlers.onPeerMessage(from, m);
        return;
      default:
        this.handlers.onPeerMessage(from, m);
    }
  }

  private async fetchRelayed(from: string, id: string): Promise<void> {
    try {
      const [row] = await this.sql<{ body: string }[]>`select body from plinth.realtime_relay where id = ${id}::bigint`;
      if (row) this.peerMessage(from, JSON.parse(row.body) as PeerMessage, true);
    } catch (err) {
      this.log.warn("realtime: relayed message lost", { error: err });
    }
  }

  private databaseMessage(s: unknown[]): void {
    const [topic, isPrivate, event, id, payload] = s;
    if (typeof topic !== "string" || typeof event !== "string") return;
    this.handlers.onDatabaseMessage({ topic, private: isPrivate === true, event, id: String(id), payload });
  }

  private async fetchDatabaseMessage(ref: unknown[]): Promise<void> {
    try {
      const [row] = await this.sql<{ topic: string; private: boolean | null; event: string | null; id: string; payload: unknown }[]>`
        select topic, private, event, id::text, payload from realtime.messages where id = ${String(ref[0])}::uuid`;
      if (row) this.handlers.onDatabaseMessage({ topic: row.topic, private: row.private === true, event: row.event ?? "", id: row.id, payload: row.payload });
    } catch (err) {
      this.log.warn("realtime: database message lost", { error: err });
    }
  }
}
