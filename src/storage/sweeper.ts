// Removes bytes no row refers to: objects whose row was never committed (a crash between the byte
// write and the insert), replaced bytes whose deletion failed, abandoned temporary files and
// resumable uploads idle for longer than their expiry. Only bytes older than the grace period are
// considered, so an upload between its byte write and its insert is never touched.
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { versionOfKey } from "./backends/backend.ts";
import type { StorageContext } from "./context.ts";
import { unreferencedVersions } from "./db.ts";
import { TUS_EXPIRY_MS } from "./tus.ts";

export interface SweepReport {
  orphans: number;
  temporary: number;
  uploads: number;
}

export async function sweep(ctx: StorageContext, graceMs = 3600_000): Promise<SweepReport> {
  const before = new Date(Date.now() - graceMs);
  const report: SweepReport = { orphans: 0, temporary: 0, uploads: 0 };
  let batch: { key: string; version: string }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const gone = new Set(
      await unreferencedVersions(
        ctx.db.sql,
        batch.map((b) => b.version),
      ),
    );
    const keys = batch.filter((b) => gone.has(b.version)).map((b) => b.key);
    await ctx.backend.delete(keys);
    report.orphans += keys.length;
    batch = [];
  };
  for await (const { key, modified } of ctx.backend.list()) {
    const version = versionOfKey(key);
    if (!version || modified >= before) continue;
    batch.push({ key, version });
    if (batch.length >= 500) await flush();
  }
  await flush();
  report.temporary = await ctx.backend.sweepTemporary(before);
  const expired = new Date(Date.now() - Math.max(graceMs, TUS_EXPIRY_MS));
  for (const name of await readdir(ctx.backend.stagingDir).catch(() => [] as string[])) {
    const path = join(ctx.backend.stagingDir, name);
    const st = await stat(path).catch(() => null);
    if (st && st.mtime < expired) {
      await rm(path, { force: true });
      if (!name.endsWith(".json")) report.uploads++;
    }
  }
  return report;
}

/** Runs sweep every `intervalMs` (first run after one interval); stop() cancels it. */
export function startSweeper(ctx: StorageContext, intervalMs = 15 * 60_000): { stop(): Promise<void> } {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = sweep(ctx)
      .then((r) => {
        if (r.orphans || r.temporary || r.uploads) ctx.log.info("storage sweep", { ...r });
      })
      .catch((err) => ctx.log.warn("storage sweep failed", { error: err }))
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  timer.unref?.();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
