// Helpers for the realtime suites: servers ("nodes") over one test database, supabase-js clients on
// a chosen serializer version, a raw Phoenix websocket, and polling.
import { afterAll } from "bun:test";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { apiKeys } from "../../src/lib/jwt.ts";
import type { ConfigInput } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { serve, type RunningServer } from "../../src/server.ts";
import { testConfig, TEST_SECRET } from "./app.ts";
import { freshDatabase, type TestDatabase } from "./db.ts";

export type Vsn = "1.0.0" | "2.0.0";
export const VERSIONS: Vsn[] = ["1.0.0", "2.0.0"];

export interface Node {
  url: string;
  port: number;
  server: RunningServer;
  stop(): Promise<void>;
}

/** A Plinth server on the given database (several may share one: that is a cluster). */
export async function startNode(dbUrl: string, opts: { port?: number; config?: ConfigInput } = {}): Promise<Node> {
  const config = testConfig({
    port: opts.port ?? 0,
    ...opts.config,
    db: { url: dbUrl },
    rateLimit: { enabled: false },
  });
  const server = await serve({
    config,
    jwtSecret: TEST_SECRET,
    log: createLogger(process.env.PLINTH_TEST_LOG ? "debug" : "silent"),
    banner: () => {},
  });
  let stopped = false;
  const node: Node = {
    url: server.url,
    port: server.port,
    server,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
  afterAll(() => node.stop());
  return node;
}

export interface RealtimeFixture {
  database: TestDatabase;
  node: Node;
  keys: { anon: string; service_role: string };
}

/** A fresh database with `setupSql` applied, and one node on it. */
export async function startRealtime(setupSql = "", config: ConfigInput = {}): Promise<RealtimeFixture> {
  // Registered before the database's own hook, which drops it: hooks run in registration order, and
  // a database cannot be dropped while the node's replication slot is active.
  let node: Node | null = null;
  afterAll(() => node?.stop());
  const database = await freshDatabase();
  if (setupSql) await database.db.sql.unsafe(setupSql);
  node = await startNode(database.url, { config });
  return { database, node, keys: await apiKeys(TEST_SECRET) };
}

const clients: SupabaseClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.removeAllChannels().catch(() => {});
});

export function client(url: string, key: string, vsn: Vsn): SupabaseClient {
  const c = createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    // realtime-js picks the serializer from `vsn` itself (params.vsn would only add a second,
    // conflicting query parameter).
    realtime: { vsn, heartbeatIntervalMs: 5_000, timeout: 5_000 },
  });
  clients.push(c);
  return c;
}

export async function waitFor<T>(fn: () => T | undefined | null | false, timeoutMs = 5_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Subscribes and resolves with the status (SUBSCRIBED, CHANNEL_ERROR, …) and the error if any. */
export function subscribed(channel: ReturnType<SupabaseClient["channel"]>): Promise<{ status: string; err?: Error }> {
  return new Promise((resolve) => {
    channel.subscribe((status, err) => {
      if (status !== "CLOSED") resolve({ status, err });
    });
  });
}

/** A raw Phoenix socket for protocol tests: frames in, frames out, close info. */
export class RawSocket {
  readonly ws: WebSocket;
  readonly frames: unknown[] = [];
  closed: { code: number; reason: string } | null = null;
  private ref = 0;

  constructor(url: string, query: string) {
    this.ws = new WebSocket(`${url.replace(/^http/, "ws")}/realtime/v1/websocket?${query}`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (e) => this.frames.push(typeof e.data === "string" ? JSON.parse(e.data) : new Uint8Array(e.data as ArrayBuffer));
    this.ws.onclose = (e) => (this.closed = { code: e.code, reason: e.reason });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve();
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error("websocket failed"));
    });
  }

  nextRef(): string {
    return String(++this.ref);
  }

  send(data: unknown): void {
    this.ws.send(typeof data === "string" || data instanceof Uint8Array ? data : JSON.stringify(data));
  }

  /** Waits for a frame matching the predicate. */
  async expect<T = unknown>(pred: (f: T) => boolean, timeoutMs = 3_000): Promise<T> {
    return (await waitFor(() => this.frames.find((f) => pred(f as T)) as T | undefined, timeoutMs, "frame")) as T;
  }
}
