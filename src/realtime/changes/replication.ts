/*
 * The logical replication stream that feeds postgres_changes: one per Plinth node.
 *
 * What happens across restarts (this text also goes in the README):
 *
 * - Slot. A node that has postgres_changes subscribers runs one stream on a TEMPORARY logical slot
 *   (pgoutput, publication `supabase_realtime`) named `<realtime.slotName>_<random node id>`; it
 *   starts with the first such subscription and stops 30 s after the last one left. PostgreSQL
 *   drops a temporary slot when the connection that created it ends, for any reason: clean stop,
 *   crash, kill -9, network loss. So a stopped node never leaves a slot behind, and two nodes never
 *   fight over one slot: each decodes the WAL for its own subscribers, which is also why every
 *   subscriber gets each change exactly once (a subscriber is connected to exactly one node).
 * - WAL retention. While the node runs, the slot holds back WAL only up to the last transaction the
 *   node has read; it confirms each commit as it reads it and answers the server's keepalives. When
 *   the node stops, the slot is gone and nothing is retained: a long outage cannot fill the disk.
 *   (A permanent slot would do the opposite: keep every WAL segment until the node returns.)
 * - What a client misses. Changes committed while no stream is running are not delivered, by
 *   design: the subscription state lives in the sockets, which a restart closes anyway. realtime-js
 *   reconnects and rejoins by itself; changes committed after the rejoin's reply arrive, changes
 *   committed between the old socket's death and that reply do not. Apps that must not miss rows
 *   refetch after a (re)subscribe, exactly as with Supabase, whose Realtime also uses a temporary
 *   slot. The same holds when the replication connection alone drops: the node reconnects with a
 *   new slot (backoff up to 30 s) and logs the gap; joins wait briefly for the stream to be ready.
 * - Transactions are decoded at commit, in commit order; a transaction's changes carry its commit
 *   timestamp. Rows are authorised against the table as it is when the change is processed (as
 *   Supabase does), so a row deleted right after its insert may not be announced to RLS-checked
 *   subscribers.
 * - Privilege. The connection needs REPLICATION (or superuser). The embedded server's URL has it.
 *   With PLINTH_DB_URL pointing at a role without it, the node logs a warning and keeps retrying;
 *   broadcast and presence work regardless.
 */
import postgres from "postgres";
import type { Duplex } from "node:stream";
import type { Logger } from "../../log.ts";
import { decodePgOutput, formatLsn, parseLsn, type PgOutputMessage } from "./pgoutput.ts";

export interface ReplicationOptions {
  url: string;
  slotName: string;
  publication: string;
  log: Logger;
  /** Called synchronously for every decoded message, in stream order. */
  onMessage(msg: PgOutputMessage): void;
  /** Called after each (re)start: the stream's slot is ready from here on. */
  onReady?(): void;
  /** A pool connection, to confirm at stop that the slot is gone (the walsender drops it on exit). */
  sql?: postgres.Sql;
}

export interface ReplicationStream {
  readonly ready: boolean;
  /** Resolves true once the stream runs (or false after `timeoutMs`). */
  whenReady(timeoutMs: number): Promise<boolean>;
  /** Flow control: stop reading (the server buffers in the slot) while the consumer catches up. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;
const STATUS_INTERVAL_MS = 10_000;
/** Microseconds between 1970 and 2000, PostgreSQL's epoch. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

export function startReplication(opts: ReplicationOptions): ReplicationStream {
  const { log } = opts;
  let stopped = false;
  let ready = false;
  let sql: postgres.Sql | null = null;
  let stream: Duplex | null = null;
  let paused = false;
  let received = 0n; // end LSN of the last commit read: what we confirm to the server
  let waiters: Array<(ok: boolean) => void> = [];
  let statusTimer: ReturnType<typeof setInterval> | null = null;
  let warnedPrivilege = false;

  const setReady = (v: boolean) => {
    ready = v;
    if (v) {
      for (const w of waiters) w(true);
      waiters = [];
      opts.onReady?.();
    }
  };

  function sendStatus(): void {
    if (!stream) return;
    const x = Buffer.alloc(34);
    x[0] = 0x72; // 'r': standby status update
    x.writeBigUInt64BE(received, 1); // written
    x.writeBigUInt64BE(received, 9); // flushed
    x.writeBigUInt64BE(received, 17); // applied
    x.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_MICROS, 25);
    x[33] = 0;
    stream.write(x);
  }

  function onData(chunk: Buffer): void {
    if (chunk[0] === 0x77 /* w */) {
      const msg = decodePgOutput(chunk.subarray(25));
      if (msg.tag === "commit") received = msg.endLsn;
      opts.onMessage(msg);
    } else if (chunk[0] === 0x6b /* k */) {
      const walEnd = chunk.readBigUInt64BE(1);
      // Nothing of ours is pending beyond walEnd when we are idle: confirming it lets the server
      // recycle WAL written by other databases or unpublished tables.
      if (walEnd > received && !paused) received = walEnd;
      if (chunk[17]) sendStatus();
    }
  }

  async function runOnce(): Promise<void> {
    sql = postgres(opts.url, {
      max: 1,
      fetch_types: false,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 10,
      onnotice: () => {},
      // Output functions run in the walsender with these settings: ISO dates in UTC, so values.ts
      // can turn text into the JSON that to_jsonb would give.
      connection: {
        replication: "database",
        application_name: "plinth_realtime",
        TimeZone: "UTC",
        DateStyle: "ISO, YMD",
        IntervalStyle: "postgres",
        extra_float_digits: "1",
      } as Record<string, string>,
    });
    // Safe: the slot name matches [a-z0-9_] (config schema + our hex suffix); replication commands
    // take no bind parameters.
    const [slot] = await sql.unsafe(`CREATE_REPLICATION_SLOT ${opts.slotName} TEMPORARY LOGICAL pgoutput NOEXPORT_SNAPSHOT`);
    const start = parseLsn(String((slot as unknown as { consistent_point: string }).consistent_point));
    received = start;
    const pub = opts.publication.replace(/'/g, "''").replace(/"/g, '""');
    stream = (await sql
      .unsafe(`START_REPLICATION SLOT ${opts.slotName} LOGICAL ${formatLsn(start)} (proto_version '1', publication_names '"${pub}"')`)
      .writable()) as unknown as Duplex;
    const closed = new Promise<void>((resolve) => {
      stream!.on("close", resolve);
      stream!.on("end", resolve);
      stream!.on("error", (err) => {
        log.warn("realtime: replication stream error", { error: err });
        resolve();
      });
    });
    stream.on("data", onData);
    if (paused) stream.pause();
    statusTimer = setInterval(sendStatus, STATUS_INTERVAL_MS);
    log.info("realtime: replication stream started", { slot: opts.slotName, lsn: formatLsn(start) });
    setReady(true);
    await closed;
  }

  async function cleanup(): Promise<void> {
    ready = false;
    if (statusTimer) clearInterval(statusTimer);
    statusTimer = null;
    const s = stream;
    stream = null;
    s?.removeAllListeners("data");
    s?.destroy();
    const q = sql;
    sql = null;
    await q?.end({ timeout: 1 }).catch(() => {});
  }

  const loop = (async () => {
    let backoff = 500;
    while (!stopped) {
      const began = Date.now();
      try {
        await runOnce();
        if (!stopped) log.warn("realtime: replication stream ended; reconnecting with a new slot (changes in between are not delivered)");
      } catch (err) {
        if (stopped) break;
        const message = err instanceof Error ? err.message : String(err);
        if (/superuser or replication role|permission denied/i.test(message)) {
          if (!warnedPrivilege) {
            log.warn(
              "realtime: the database role lacks the REPLICATION attribute; postgres_changes are disabled (broadcast and presence still work). Grant it with: ALTER ROLE <role> REPLICATION",
              { error: message },
            );
            warnedPrivilege = true;
          }
          backoff = MAX_BACKOFF_MS;
        } else {
          log.warn("realtime: replication stream failed", { error: message });
        }
      }
      await cleanup();
      if (stopped) break;
      if (Date.now() - began > 60_000) backoff = 500;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  })();

  return {
    get ready() {
      return ready;
    },
    whenReady(timeoutMs) {
      if (ready) return Promise.resolve(true);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          waiters = waiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
        const done = (ok: boolean) => {
          clearTimeout(t);
          resolve(ok);
        };
        waiters.push(done);
      });
    },
    pause() {
      paused = true;
      stream?.pause();
    },
    resume() {
      paused = false;
      stream?.resume();
    },
    async stop() {
      stopped = true;
      for (const w of waiters) w(false);
      waiters = [];
      await cleanup();
      await loop;
      // The server drops a temporary slot when the walsender exits, a moment after our connection
      // closed; callers (DROP DATABASE after a stop, say) rely on it being gone.
      for (let i = 0; opts.sql && i < 100; i++) {
        const rows = await opts.sql`select 1 from pg_replication_slots where slot_name = ${opts.slotName}`.catch(() => []);
        if (rows.length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
