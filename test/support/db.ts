// One real PostgreSQL per test run, started through the same embedded supervisor users get, and a
// fresh database per test file cloned from a template that already has the system migrations.
import { afterAll } from "bun:test";
import { resolve } from "node:path";
import postgres from "postgres";
import { startEmbedded, type EmbeddedServer } from "../../src/db/embedded.ts";
import { connect, type Database } from "../../src/db/pool.ts";
import { applySystemMigrations } from "../../src/db/system-migrations.ts";

export const TEST_DATA_DIR = resolve(process.env.PLINTH_TEST_DATA_DIR ?? resolve(import.meta.dir, "../../.test_data"));
const TEMPLATE = "plinth_test_template";

let server: Promise<{ embedded: EmbeddedServer; admin: postgres.Sql }> | null = null;

/** The shared cluster (started on first use, stopped when the run ends). */
export function testCluster(): Promise<{ embedded: EmbeddedServer; admin: postgres.Sql }> {
  server ??= (async () => {
    const embedded = await startEmbedded({ dataDir: TEST_DATA_DIR });
    const admin = postgres(embedded.url, { max: 2, onnotice: () => {} });
    // Leftovers of an interrupted run, and a template rebuilt each run so migration changes apply.
    const stale = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like 't\\_%' or datname = ${TEMPLATE}`;
    for (const { datname } of stale) await admin.unsafe(`drop database if exists "${datname}" with (force)`);
    await admin.unsafe(`create database ${TEMPLATE}`);
    const tpl = postgres(withDatabase(embedded.url, TEMPLATE), { max: 1, onnotice: () => {} });
    await applySystemMigrations(tpl);
    await tpl.end();
    return { embedded, admin };
  })();
  return server;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  db: Database;
  /** The embedded server's superuser URL for this database. */
  clusterUrl: string;
}

/** A new database for the calling test file, dropped when the file's tests end. */
export async function freshDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const { embedded, admin } = await testCluster();
  const name = `t_${Math.random().toString(36).slice(2, 10)}`;
  // Safe: the name is generated above from [a-z0-9_].
  if (opts.migrated === false) await admin.unsafe(`create database ${name}`);
  else await admin.unsafe(`create database ${name} template ${TEMPLATE}`);
  const url = withDatabase(embedded.url, name);
  const db = connect(url, { max: 5 });
  afterAll(async () => {
    await db.close(1);
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  });
  return { name, url, db, clusterUrl: embedded.url };
}

export async function testClusterIfStarted() {
  return server ? server : null;
}
