// Decoder for the pgoutput logical replication protocol (proto_version 1), the messages that arrive
// inside CopyData 'w' (XLogData) frames of a START_REPLICATION stream. Values stay as the text the
// server's output functions produced; typing them is values.ts's job.
// Reference: PostgreSQL docs, "Logical Replication Message Formats".

export interface RelationColumn {
  name: string;
  typeOid: number;
  typmod: number;
  /** Part of the replica identity (the primary key by default). */
  isKey: boolean;
}

export interface RelationMessage {
  tag: "relation";
  oid: number;
  schema: string;
  table: string;
  /** d: default (primary key), n: nothing, f: full, i: index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

/** A tuple's values: text, null, or undefined for an unchanged TOASTed value the server did not send. */
export type TupleValues = Array<string | null | undefined>;

export type PgOutputMessage =
  | { tag: "begin"; finalLsn: bigint; commitTime: bigint; xid: number }
  | { tag: "commit"; commitLsn: bigint; endLsn: bigint; commitTime: bigint }
  | RelationMessage
  | { tag: "insert"; relation: number; new: TupleValues }
  | { tag: "update"; relation: number; old: TupleValues | null; oldIsKey: boolean; new: TupleValues }
  | { tag: "delete"; relation: number; old: TupleValues; oldIsKey: boolean }
  | { tag: "truncate"; relations: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: "other"; code: string };

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    return this.buf.readUInt8(this.at++);
  }
  u16(): number {
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  i64(): bigint {
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }
  cstr(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new Error("pgoutput: unterminated string");
    const s = this.buf.toString("utf8", this.at, end);
    this.at = end + 1;
    return s;
  }
  tuple(): TupleValues {
    const n = this.u16();
    const values: TupleValues = new Array(n);
    for (let i = 0; i < n; i++) {
      const kind = this.u8();
      if (kind === 0x6e /* n */) values[i] = null;
      else if (kind === 0x75 /* u */) values[i] = undefined;
      else if (kind === 0x74 /* t */ || kind === 0x62 /* b */) {
        const len = this.u32();
        values[i] = this.buf.toString("utf8", this.at, this.at + len);
        this.at += len;
      } else throw new Error(`pgoutput: unknown tuple value kind ${kind}`);
    }
    return values;
  }
}

export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const code = String.fromCharCode(r.u8());
  switch (code) {
    case "B":
      return { tag: "begin", finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case "C": {
      r.u8(); // flags, unused
      return { tag: "commit", commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    }
    case "R": {
      const oid = r.u32();
      const schema = r.cstr() || "pg_catalog";
      const table = r.cstr();
      const replicaIdentity = String.fromCharCode(r.u8());
      const n = r.u16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.u8();
        columns.push({ isKey: (flags & 1) === 1, name: r.cstr(), typeOid: r.u32(), typmod: r.i32() });
      }
      return { tag: "relation", oid, schema, table, replicaIdentity, columns };
    }
    case "I": {
      const relation = r.u32();
      r.u8(); // 'N'
      return { tag: "insert", relation, new: r.tuple() };
    }
    case "U": {
      const relation = r.u32();
      let kind = String.fromCharCode(r.u8());
      let old: TupleValues | null = null;
      const oldIsKey = kind === "K";
      if (kind === "K" || kind === "O") {
        old = r.tuple();
        kind = String.fromCharCode(r.u8());
      }
      return { tag: "update", relation, old, oldIsKey, new: r.tuple() };
    }
    case "D": {
      const relation = r.u32();
      const kind = String.fromCharCode(r.u8());
      return { tag: "delete", relation, oldIsKey: kind === "K", old: r.tuple() };
    }
    case "T": {
      const count = r.u32();
      const options = r.u8();
      const relations: number[] = [];
      for (let i = 0; i < count; i++) relations.push(r.u32());
      return { tag: "truncate", relations, cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2 };
    }
    default:
      return { tag: "other", code };
  }
}

/** Microseconds since 2000-01-01 (PostgreSQL's epoch) → milliseconds since 1970. */
export const pgTimeToMs = (micros: bigint): number => Number(micros / 1000n) + 946_684_800_000;

export const formatLsn = (lsn: bigint): string => `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;

export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split("/");
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}
