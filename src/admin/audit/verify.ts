// `plinth audit verify` and GET /admin/v1/audit/verify: walks plinth.audit_log in chain order
// through a server-side cursor (constant memory whatever the size) inside one REPEATABLE READ
// snapshot, so rows written meanwhile are neither half-seen nor reported as breaks. Starts where the
// archives end (the last archived row's hash is the first live row's prev_hash), optionally
// re-checks the archive files themselves, and ends at the chain head. The first break raises an
// `audit_chain_broken` critical security event.
//
// What it can and cannot prove: it detects a row changed, removed or inserted by someone writing
// the table directly (triggers off, or as the superuser) unless they also recompute every later
// hash and the head. Only a copy of the head hash kept outside the database (the `head` this
// returns, in an operator's records or a monitoring system) closes that gap.
import type { Sql } from "../../db/pool.ts";
import { raiseSecurityEvent } from "../security/events.ts";
import type { ArchiveStore } from "./archive-store.ts";
import { CHAIN_SELECT, ChainWalker, GENESIS_HASH, type ChainBreak, type ChainRecord } from "./chain.ts";
import { readArchive } from "./retention.ts";

export type VerifyResult = { ok: true; checked: number; head: { seq: number; hash: string }; archived: number } | ChainBreak;

interface ArchiveRow {
  id: string;
  first_seq: string;
  last_seq: string;
  first_prev_hash: string;
  last_hash: string;
  row_count: string;
  location: string;
  file_sha256: string;
}

export interface VerifyOptions {
  /** Also read every archive file and walk its rows (slower; needs the archive store). */
  archives?: ArchiveStore;
  /** Rows per cursor batch. */
  batch?: number;
  log?: { warn(msg: string, fields?: object): void };
}

export async function verifyAuditChain(sql: Sql, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const result = await walk(sql, opts);
  if (!result.ok) {
    await raiseSecurityEvent(
      sql,
      {
        kind: "audit_chain_broken",
        severity: "critical",
        details: { first_bad_id: result.first_bad_id, first_bad_seq: result.first_bad_seq, reason: result.reason, message: result.message },
      },
      opts.log,
    );
  }
  return result;
}

async function walk(sql: Sql, opts: VerifyOptions): Promise<VerifyResult> {
  return (await sql.begin("isolation level repeatable read read only", async (tx) => {
    await tx`set local extra_float_digits = 1`;
    const [head] = await tx<{ seq: string; hash: string }[]>`select seq::text, hash from plinth.audit_chain_head`;
    if (!head) return brk(null, null, "head_mismatch", "the chain head is missing");
    const archives = await tx<ArchiveRow[]>`
      select id::text, first_seq::text, last_seq::text, first_prev_hash, last_hash, row_count::text, location, file_sha256
      from plinth.audit_archives order by first_seq`;
    // Archives must join end to end from the genesis row.
    let start = { seq: 0, hash: GENESIS_HASH };
    let archived = 0;
    for (const a of archives) {
      if (Number(a.first_seq) !== start.seq + 1 || a.first_prev_hash !== start.hash) {
        return brk(null, Number(a.first_seq), "archive_mismatch", `archive ${a.id} (${a.location}) does not continue the chain`);
      }
      if (opts.archives) {
        const bad = await checkArchiveFile(opts.archives, a, start);
        if (bad) return bad;
      }
      start = { seq: Number(a.last_seq), hash: a.last_hash };
      archived += Number(a.row_count);
    }
    const walker = new ChainWalker(start);
    const headSeq = Number(head.seq);
    const cursor = tx.unsafe<ChainRecord[]>(`select ${CHAIN_SELECT} from plinth.audit_log a order by a.seq nulls first, a.id`).cursor(opts.batch ?? 1000);
    for await (const rows of cursor) {
      for (const r of rows) {
        if (r.seq !== null && Number(r.seq) > headSeq) {
          return brk(Number(r.id), Number(r.seq), "head_mismatch", `row is beyond the chain head (seq ${headSeq}): it was added outside the chain`);
        }
        const broken = walker.next(r);
        if (broken) return broken;
      }
    }
    if (walker.lastSeq !== headSeq || walker.lastHash !== head.hash) {
      return brk(
        null,
        walker.lastSeq + 1,
        "head_mismatch",
        `the chain ends at seq ${walker.lastSeq} but its head says ${headSeq}: the newest rows were removed`,
      );
    }
    return { ok: true as const, checked: walker.checked, head: { seq: headSeq, hash: head.hash }, archived };
  })) as VerifyResult;
}

async function checkArchiveFile(store: ArchiveStore, a: ArchiveRow, start: { seq: number; hash: string }): Promise<ChainBreak | null> {
  const fail = (message: string) => brk(null, Number(a.first_seq), "archive_mismatch", `archive ${a.id} (${a.location}): ${message}`);
  let walker: ChainWalker;
  try {
    walker = new ChainWalker(start);
    const { sha256 } = await readArchive(store, a.location, (r) => {
      const broken = walker.next(r);
      if (broken) throw Object.assign(new Error(broken.message), { broken });
    });
    if (sha256 !== a.file_sha256) return fail("file bytes differ from the recorded sha256");
  } catch (err) {
    const broken = (err as { broken?: ChainBreak }).broken;
    if (broken) return { ...broken, reason: "archive_mismatch", message: `archive ${a.id}: ${broken.message}` };
    return fail(`cannot be read (${(err as Error).message})`);
  }
  if (walker.lastSeq !== Number(a.last_seq) || walker.lastHash !== a.last_hash) return fail("does not end at the recorded row");
  return null;
}

const brk = (id: number | null, seq: number | null, reason: ChainBreak["reason"], message: string): ChainBreak => ({
  ok: false,
  first_bad_id: id,
  first_bad_seq: seq,
  reason,
  message,
});
