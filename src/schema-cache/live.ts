// The live schema cache: loaded at start, reloaded when PostgreSQL announces DDL (the event trigger
// of migration 0003 notifies `plinth_schema`) or when someone runs `NOTIFY pgrst, 'reload schema'`.
// A reload builds a complete new cache and swaps one reference, so a request sees either the old
// cache or the new one, never a half-built one, and no request waits for a reload.
import postgres from "postgres";
import type { Logger } from "../log.ts";
import { loadSchemaCache } from "./introspect.ts";
import type { SchemaCache } from "./types.ts";

export type { SchemaCache } from "./types.ts";
export * from "./types.ts";

export interface LiveSchemaCache {
  readonly current: SchemaCache;
  /** Reloads now (coalescing with a reload already running) and resolves when the new cache is live. */
  reload(): Promise<SchemaCache>;
  /** Called after each successful swap. */
  onReload(fn: (cache: SchemaCache) => void): void;
  stop(): Promise<void>;
}

export interface SchemaCacheOptions {
  /** Pool used for the catalog queries. */
  sql: postgres.Sql;
  /** URL for the dedicated LISTEN connection; omit to not listen (tests, one-shot tools). */
  listenUrl?: string;
  schemas: string[];
  log: Logger;
  /** Milliseconds to wait for more announcements before reloading (a migration issues many DDLs). */
  debounceMs?: number;
}

export async function createSchemaCache(opts: SchemaCacheOptions): Promise<LiveSchemaCache> {
  const { sql, schemas, log } = opts;
  const debounceMs = opts.debounceMs ?? 50;
  let current = await loadSchemaCache(sql, schemas);
  const listeners: Array<(c: SchemaCache) => void> = [];
  let running: Promise<SchemaCache> | null = null;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const reload = (): Promise<SchemaCache> => {
    if (running) {
      // A DDL that lands while we read the catalogs may be missed by this pass: run once more after.
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          const next = await loadSchemaCache(sql, schemas);
          current = next;
          for (const fn of listeners) fn(next);
        } while (again && !stopped);
        log.debug("schema cache reloaded", { tables: current.tables.size, routines: current.routines.size });
        return current;
      } catch (error) {
        // Keep serving with the previous cache; the next announcement retries.
        log.warn("schema cache reload failed", { error });
        return current;
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void reload();
    }, debounceMs);
  };

  let listenSql: postgres.Sql | null = null;
  if (opts.listenUrl) {
    listenSql = postgres(opts.listenUrl, { max: 1, onnotice: () => {}, connection: { application_name: "plinth-schema-listener" } });
    await listenSql.listen(
      "plinth_schema",
      () => schedule(),
      () => {
        // (Re)connected: DDL may have happened while we were away.
        if (!stopped && Date.now() - current.loadedAt > 1000) schedule();
      },
    );
    await listenSql.listen("pgrst", (payload) => {
      if (payload === "" || /reload schema/i.test(payload)) schedule();
    });
  }

  return {
    get current() {
      return current;
    },
    reload,
    onReload: (fn) => void listeners.push(fn),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {});
      // Bounded: a listener reconnecting to a database that is gone must not hold shutdown up.
      if (listenSql) await Promise.race([listenSql.end({ timeout: 1 }).catch(() => {}), Bun.sleep(1500)]);
    },
  };
}
