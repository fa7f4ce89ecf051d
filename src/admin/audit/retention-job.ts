// The periodic side of retention: every node runs pruneAudit hourly (and once shortly after start)
// when audit.retentionDays is set; the prune's advisory lock makes all but one node skip. Failures
// are logged and retried at the next tick — rows past the limit only stay a little longer.
import type { Config } from "../../config/schema.ts";
import type { Sql } from "../../db/pool.ts";
import type { Logger } from "../../log.ts";
import { createArchiveStore, type ArchiveStore } from "./archive-store.ts";
import { pruneAudit } from "./retention.ts";

const EVERY_MS = 3600_000;
const FIRST_MS = 60_000;

export interface RetentionJob {
  /** Runs one prune now (what the timer does); resolves when it is done. */
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startAuditRetention(deps: { sql: Sql; config: Config; log: Logger }, timing = { firstMs: FIRST_MS, everyMs: EVERY_MS }): RetentionJob {
  const days = deps.config.audit.retentionDays;
  let store: Promise<ArchiveStore> | null = null;
  let running: Promise<void> | null = null;
  const runNow = () =>
    (running ??= (async () => {
      if (!days) return;
      try {
        store ??= createArchiveStore(deps.config);
        const r = await pruneAudit(deps.sql, await store, { retentionDays: days });
        if (r.removed) deps.log.info("audit: archived and removed rows past retention", { removed: r.removed, archives: r.archives.map((a) => a.location) });
      } catch (err) {
        store = null;
        deps.log.error("audit: retention run failed", { error: err });
      }
    })().finally(() => (running = null)));
  const timers: ReturnType<typeof setTimeout>[] = [];
  if (days) {
    const first = setTimeout(() => void runNow(), timing.firstMs);
    const every = setInterval(() => void runNow(), timing.everyMs);
    first.unref?.();
    every.unref?.();
    timers.push(first, every);
  }
  return {
    runNow,
    async stop() {
      for (const t of timers) clearTimeout(t);
      await running;
    },
  };
}
