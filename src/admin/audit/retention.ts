// Retention (audit.retentionDays): rows older than the limit are first written to an archive — gzip
// NDJSON, one ChainRecord per line with its hash, so the archived chain can be re-verified — and
// only then removed, through plinth.audit_prune(), the one delete the append-only trigger allows
// (migration 0015). The archive always holds a prefix of the chain, so the first live row's
// prev_hash is the archive's last hash and verification passes across the boundary.
//
// Run by a periodic job on every node (an advisory lock lets one node at a time do it; the others
// skip) and by `plinth audit prune`. Each archive holds at most MAX_ROWS rows, so a long backlog is
// archived in several files, each in its own transaction, in constant memory.
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { Sql } from "../../db/pool.ts";
import { raiseSecurityEvent } from "../security/events.ts";
import { discard, type ArchiveStore } from "./archive-store.ts";
import { CHAIN_FIELDS, CHAIN_SELECT, ChainWalker, type ChainRecord } from "./chain.ts";

/** One node prunes at a time (an arbitrary constant in Plinth's advisory-lock space). */
const PRUNE_LOCK = 7_301_515;
const MAX_ROWS = 200_000;

export interface PruneReport {
  archives: { location: string; first_seq: number; last_seq: number; rows: number }[];
  removed: number;
  /** Rows still older than the limit (another node held the lock, or nothing was due). */
  skipped: boolean;
}

export async function pruneAudit(sql: Sql, store: ArchiveStore, opts: { retentionDays: number; now?: Date; maxRows?: number }): Promise<PruneReport> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.retentionDays * 86_400_000);
  const report: PruneReport = { archives: [], removed: 0, skipped: false };
  for (;;) {
    const step = await pruneOnce(sql, store, cutoff, opts.maxRows ?? MAX_ROWS);
    if (step === "locked") return { ...report, skipped: true };
    if (!step) return report;
    report.archives.push(step.archive);
    report.removed += step.removed;
  }
}

async function pruneOnce(sql: Sql, store: ArchiveStore, cutoff: Date, maxRows: number) {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(${PRUNE_LOCK}) as ok`;
    if (!lock?.ok) return "locked" as const;
    await tx`set local extra_float_digits = 1`;
    // The archive is a prefix of the chain: up to the row before the first one still inside the
    // limit (`at` is the writer's transaction start, so it is not strictly monotonic in seq).
    const [range] = await tx<{ first: string | null; first_prev: string | null; keep_from: string | null; last: string | null }[]>`
      select (select min(seq)::text from plinth.audit_log) as first,
             (select prev_hash from plinth.audit_log order by seq limit 1) as first_prev,
             (select min(seq)::text from plinth.audit_log where at >= ${cutoff}) as keep_from,
             (select max(seq)::text from plinth.audit_log) as last`;
    if (!range?.first || !range.first_prev) return null;
    const first = Number(range.first);
    const dueThrough = range.keep_from === null ? Number(range.last) : Number(range.keep_from) - 1;
    const through = Math.min(dueThrough, first + maxRows - 1);
    if (through < first) return null;

    const name = `audit-${first}-${through}-${stamp()}.ndjson.gz`;
    const tmp = join(store.tmpDir, `${randomUUID()}.tmp`);
    const walker = new ChainWalker({ seq: first - 1, hash: range.first_prev });
    let lastHash = "";
    const lines = async function* () {
      const cursor = tx
        .unsafe<ChainRecord[]>(`select ${CHAIN_SELECT} from plinth.audit_log a where a.seq between $1 and $2 order by a.seq`, [first, through])
        .cursor(1000);
      for await (const rows of cursor) {
        let chunk = "";
        for (const r of rows) {
          // Never archive (and so never delete) a chain that does not verify: that is evidence.
          const broken = walker.next(r);
          if (broken) throw Object.assign(new Error(`audit prune refused: ${broken.message} (id ${broken.first_bad_id})`), { broken });
          lastHash = r.hash!;
          chunk += `${JSON.stringify(r)}\n`;
        }
        yield chunk;
      }
    };
    const digest = createHash("sha256");
    const tap = new Transform({
      transform(chunk, _enc, done) {
        digest.update(chunk);
        done(null, chunk);
      },
    });
    let location: string;
    try {
      await pipeline(Readable.from(lines()), createGzip(), tap, createWriteStream(tmp, { mode: 0o600 }));
      location = await store.publish(name, tmp);
    } catch (err) {
      await discard(tmp);
      const broken = (err as { broken?: { first_bad_id: number | null; reason: string } }).broken;
      if (broken) {
        await raiseSecurityEvent(sql, { kind: "audit_chain_broken", severity: "critical", details: { ...broken, during: "prune" } });
      }
      throw err;
    }
    const rows = through - first + 1;
    if (walker.checked !== rows) throw new Error(`audit prune: expected ${rows} rows, read ${walker.checked}`);
    const [done] = await tx<{ removed: string }[]>`
      select plinth.audit_prune(${first}, ${through}, ${range.first_prev}, ${lastHash}, ${rows}, ${location}, ${digest.digest("hex")})::text as removed`;
    return { archive: { location, first_seq: first, last_seq: through, rows }, removed: Number(done?.removed ?? 0) };
  });
}

/** Streams an archive's records to `onRecord` (in file order); returns the sha256 of its bytes. */
export async function readArchive(store: ArchiveStore, location: string, onRecord: (r: ChainRecord) => void): Promise<{ sha256: string; rows: number }> {
  const digest = createHash("sha256");
  let rest = "";
  let rows = 0;
  const take = (line: string) => {
    if (!line) return;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    const r = {} as ChainRecord;
    for (const f of [...CHAIN_FIELDS, "hash"] as const) {
      const v = parsed[f];
      if (v !== null && typeof v !== "string") throw new Error(`archive line ${rows + 1}: field ${f} is not text`);
      r[f] = v ?? null;
    }
    rows++;
    onRecord(r);
  };
  const source = Readable.fromWeb((await store.open(location)) as unknown as import("node:stream/web").ReadableStream<Uint8Array>);
  const hashTap = new Transform({
    transform(chunk, _enc, done) {
      digest.update(chunk);
      done(null, chunk);
    },
  });
  const gunzip = createGunzip();
  gunzip.setEncoding("utf8");
  const consume = async (text: AsyncIterable<string>) => {
    for await (const piece of text) {
      const parts = (rest + piece).split("\n");
      rest = parts.pop()!;
      for (const line of parts) take(line);
    }
    take(rest);
  };
  await pipeline(source, hashTap, gunzip, consume);
  return { sha256: digest.digest("hex"), rows };
}

/** 20261204T184200Z */
const stamp = () =>
  new Date()
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/[-:]/g, "");
