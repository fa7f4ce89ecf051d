// The audit log's hash chain (migration 0015): the canonical serialisation of a row, written a
// second time here so that verification does not trust the database's own function (someone who
// can rewrite rows can also replace a function), and the walk that checks a chain of such rows.
//
// Canonical form (the migration's header says the same): 'plinth.audit.v1', then for each field of
// CHAIN_FIELDS in order a newline and '-' for NULL or '<UTF-8 byte length>:<text>'. The text of
// each field is what CHAIN_SELECT reads (integers in decimal, `at` as microseconds since the epoch,
// duration_ms as PostgreSQL's shortest exact float text, booleans as true/false, jsonb as its
// normalised text). hash = lowercase hex sha256 of the bytes; the first row's prev_hash is 64 zeros.
//
// Traps: CHAIN_SELECT must run with extra_float_digits = 1 (chainSession sets it), or floats are
// printed differently from how the trigger hashed them; and the field order is the format: adding a
// column to the hash means a new version tag, never a silent change of v1.
import { createHash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);
const VERSION_TAG = "plinth.audit.v1";

/** Every field the hash covers, in canonical order (`hash` itself is not one of them). */
export const CHAIN_FIELDS = [
  "id",
  "seq",
  "at_us",
  "actor_role",
  "actor_kind",
  "actor_sub",
  "action",
  "target",
  "statement",
  "outcome",
  "status",
  "error_code",
  "duration_ms",
  "row_count",
  "request_id",
  "client_ip",
  "admin_id",
  "admin_email",
  "admin_level",
  "session_id",
  "os_user",
  "security",
  "reason",
  "details",
  "prev_hash",
] as const;

export type ChainField = (typeof CHAIN_FIELDS)[number];
/** A row as the chain sees it: every field as text (or null), plus the stored hash. */
export type ChainRecord = Record<ChainField, string | null> & { hash: string | null };

/** The select list that reads a row as a ChainRecord (static text: no user value in it). */
export const CHAIN_SELECT = `id::text as id, seq::text as seq, (extract(epoch from at) * 1000000)::bigint::text as at_us,
  actor_role, actor_kind, actor_sub, action, target, statement, outcome, status::text as status, error_code,
  duration_ms::text as duration_ms, row_count::text as row_count, request_id, client_ip, admin_id, admin_email,
  admin_level, session_id, os_user, security::text as security, reason, details::text as details, prev_hash, hash`;

export function canonicalOf(r: Record<ChainField, string | null>): string {
  let out = VERSION_TAG;
  for (const f of CHAIN_FIELDS) {
    const v = r[f];
    out += v === null || v === undefined ? "\n-" : `\n${Buffer.byteLength(v, "utf8")}:${v}`;
  }
  return out;
}

export const hashOf = (r: Record<ChainField, string | null>): string => createHash("sha256").update(canonicalOf(r), "utf8").digest("hex");

export type BreakReason =
  | "hash_mismatch" // the row's content no longer matches its hash: it was changed
  | "prev_hash_mismatch" // the row does not follow the one before it: a row before it was replaced
  | "rows_missing" // a gap in seq: rows were removed
  | "row_outside_chain" // a row the trigger never chained (inserted with triggers off)
  | "head_mismatch" // the newest rows were removed, or rows added after the recorded tail
  | "archive_mismatch"; // an archive does not join the live chain (or its file does not verify)

export interface ChainBreak {
  ok: false;
  first_bad_id: number | null;
  first_bad_seq: number | null;
  reason: BreakReason;
  message: string;
}

/**
 * Checks rows one at a time, in seq order; holds only the previous row's hash, so a walk over any
 * number of rows runs in constant memory.
 */
export class ChainWalker {
  checked = 0;
  lastSeq: number;
  lastHash: string;

  constructor(start: { seq: number; hash: string }) {
    this.lastSeq = start.seq;
    this.lastHash = start.hash;
  }

  /** null while the chain holds; the first break otherwise (the walker should then stop). */
  next(r: ChainRecord): ChainBreak | null {
    const id = r.id === null ? null : Number(r.id);
    const seq = r.seq === null ? null : Number(r.seq);
    const bad = (reason: BreakReason, message: string): ChainBreak => ({ ok: false, first_bad_id: id, first_bad_seq: seq, reason, message });
    if (seq === null || r.hash === null || r.prev_hash === null) return bad("row_outside_chain", "row has no place in the chain");
    if (seq !== this.lastSeq + 1) {
      return seq > this.lastSeq + 1
        ? bad("rows_missing", `rows ${this.lastSeq + 1}..${seq - 1} of the chain are missing before this row`)
        : bad("row_outside_chain", `seq ${seq} repeats or goes back (expected ${this.lastSeq + 1})`);
    }
    if (r.prev_hash !== this.lastHash) return bad("prev_hash_mismatch", "row does not follow the row before it (that row was changed or replaced)");
    if (hashOf(r) !== r.hash) return bad("hash_mismatch", "row content does not match its hash (the row was changed)");
    this.checked++;
    this.lastSeq = seq;
    this.lastHash = r.hash;
    return null;
  }
}
