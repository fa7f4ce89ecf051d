// Opens the database Plinth runs on: the one PLINTH_DB_URL names, or the embedded PostgreSQL
// supervised in <dataDir>/pg. Either way the system migrations are applied before anything serves.
import { resolve } from "node:path";
import type { Config } from "../config/schema.ts";
import { bundledPgArchive } from "./embedded/bundled.ts";
import { startEmbedded, type EmbeddedOptions, type EmbeddedServer } from "./embedded/supervisor.ts";
import type { LogFn } from "./embedded/os.ts";
import { connect, type Database } from "./pool.ts";
import { applySystemMigrations } from "./migrations/system.ts";
import type { Logger } from "../log.ts";

export interface OpenedDatabase {
  db: Database;
  url: string;
  /** Human description for banners and /health, with no password in it. */
  label: string;
  embedded: EmbeddedServer | null;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, log: Logger, opts: { migrate?: boolean; poolMax?: number } = {}): Promise<OpenedDatabase> {
  let embedded: EmbeddedServer | null = null;
  let url = config.db.url;
  if (!url) {
    embedded = await startEmbedded(embeddedOptions(config, (level, msg, fields) => log[level](msg, fields)));
    url = embedded.url;
  }
  const db = connect(url, { max: opts.poolMax ?? config.db.poolMax });
  try {
    if (opts.migrate !== false) {
      const report = await applySystemMigrations(db.sql);
      if (report.applied.length) log.info("system migrations applied", { versions: report.applied });
    }
  } catch (err) {
    await db.close(1).catch(() => {});
    await embedded?.stop();
    throw err;
  }
  return {
    db,
    url,
    label: embedded
      ? `embedded PostgreSQL on 127.0.0.1:${embedded.port} (${embedded.owned ? "started by this process" : "shared with a running server"}, binaries: ${embedded.binSource})`
      : maskUrl(url),
    embedded,
    async close() {
      await db.close();
      await embedded?.stop();
    },
  };
}

/** How the embedded server of `config` is started or attached to: by serve, backup and restore alike. */
export function embeddedOptions(config: Config, log: LogFn): EmbeddedOptions {
  return {
    dataDir: resolve(config.dataDir),
    pgBin: config.db.pgBin ? resolve(config.db.pgBin) : undefined,
    pgUser: config.db.pgUser,
    bundledArchive: bundledPgArchive,
    log,
  };
}

export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "****";
    return u.toString();
  } catch {
    return "postgres://(unparseable url)";
  }
}
