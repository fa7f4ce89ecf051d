// The realtime service's pure parts: filter grammar and evaluation, value typing, payload shape,
// the serializers, and the pgoutput decoder. No database, no sockets.
import { describe, expect, test } from "bun:test";
import { buildData, ROW_CHANGED_ERROR } from "../src/realtime/changes/payload.ts";
import { filterMatches, likeMatcher, parseFilters, type Filter } from "../src/realtime/changes/filters.ts";
import { decodePgOutput } from "../src/realtime/changes/pgoutput.ts";
import type { RelationInfo } from "../src/realtime/changes/relations.ts";
import { bindingId, parseBinding } from "../src/realtime/changes/subscriptions.ts";
import { arrayJson, builtinType, compareValues, valueJson } from "../src/realtime/changes/values.ts";
import { decodeBinary, decodeText, encodeFrame, encodeUserBroadcast, userBroadcastJson } from "../src/realtime/protocol.ts";

const int4 = builtinType(23)!;
/** The single filter a string parses to. */
function one(text: string): Filter {
  const p = parseFilters(text);
  if (!p.ok || p.filters.length !== 1) throw new Error(`expected one filter: ${text}`);
  return p.filters[0]!;
}
const text = builtinType(25)!;
const tstz = builtinType(1184)!;

describe("filters", () => {
  test("parse the builder's grammar: several filters, not., quoting, in lists", () => {
    const p = parseFilters('id=gt.0,id=lt.100,name=not.eq."a,b",tag=in.(x,"y z",\\"q)');
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.filters.map((f) => [f.column, f.op, f.negate, f.value])).toEqual([
      ["id", "gt", false, "0"],
      ["id", "lt", false, "100"],
      ["name", "eq", true, "a,b"],
      ["tag", "in", false, ["x", "y z", '\\"q']],
    ]);
    expect(parseFilters("id=foo.1")).toEqual({ ok: false, message: 'Error parsing `filter` params: ["foo","1"]' });
    expect(parseFilters("id=in.1,2").ok).toBe(false);
    expect(parseFilters("undefined").ok).toBe(false);
    expect(parseFilters("")).toEqual({ ok: true, filters: [] });
  });

  test("evaluate with types: numbers numerically, NULL never matches but is.null", () => {
    const f = one("n=lt.10");
    expect(filterMatches(f, int4, "9")).toBe(true);
    expect(filterMatches(f, int4, "10")).toBe(false);
    expect(filterMatches(f, int4, "100")).toBe(false); // not "100" < "10" as strings
    expect(filterMatches(f, int4, null)).toBe(false);
    const isNull = one("n=is.null");
    expect(filterMatches(isNull, int4, null)).toBe(true);
    const ilike = one("s=ilike.%AB_");
    expect(filterMatches(ilike, text, "xxabc")).toBe(true);
    const at = one("at=gte.2024-01-01T00:00:00Z");
    expect(filterMatches(at, tstz, "2024-01-01 00:00:00.5+00")).toBe(true);
    expect(filterMatches(at, tstz, "2023-12-31 23:59:59+00")).toBe(false);
  });

  test("match/imatch are refused; like patterns are taken literally apart from % _ and \\", () => {
    for (const op of ["match", "imatch", "not.match"]) {
      const p = parseFilters(`s=${op}.^(a+)+$`);
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.message).toContain("not supported");
    }
    // `-`, brackets and other regex metacharacters are plain characters (they once broke the join).
    const dash = one("s=like.%-[x]%");
    expect(filterMatches(dash, text, "a-[x]b")).toBe(true);
    expect(filterMatches(dash, text, "a[x]b")).toBe(false);
    expect(filterMatches(one("s=like.a\\%b"), text, "a%b")).toBe(true);
    expect(filterMatches(one("s=like.a\\%b"), text, "axb")).toBe(false);
    expect(filterMatches(one("s=like._"), text, "😀")).toBe(true); // one character, not one UTF-16 unit
    expect(parseFilters("s=like.abc\\").ok).toBe(false);
    expect(parseFilters(`s=like.${"x".repeat(63)}%`).ok).toBe(true);
    expect(parseFilters(`s=like.${"x".repeat(64)}`).ok).toBe(false);
  });

  test("like agrees with a reference on random patterns and values, and stays linear", () => {
    const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const reference = (pattern: string, value: string, insensitive: boolean) => {
      let re = "";
      const cs = [...pattern];
      for (let k = 0; k < cs.length; k++) {
        const c = cs[k]!;
        re += c === "\\" ? escape(cs[++k]!) : c === "%" ? "[\\s\\S]*" : c === "_" ? "." : escape(c);
      }
      return new RegExp(`^${re}$`, insensitive ? "isu" : "su").test(value);
    };
    const pick = (alphabet: string[], n: number) => Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
    for (let t = 0; t < 5000; t++) {
      const pattern = pick(["a", "b", "%", "_", "\\%", "é", "😀", "A", "-"], Math.floor(Math.random() * 6));
      const value = pick(["a", "b", "%", "é", "😀", "A", "_", "-"], Math.floor(Math.random() * 8));
      for (const insensitive of [false, true]) {
        const m = likeMatcher(pattern, insensitive);
        if (typeof m === "string") continue;
        expect([pattern, value, insensitive, m.test(value)]).toEqual([pattern, value, insensitive, reference(pattern, value, insensitive)]);
      }
    }
    // Long patterns use the second word of the automaton.
    const long = likeMatcher(`%${"a_".repeat(31)}%`, false);
    if (typeof long === "string") throw new Error(long);
    expect(long.test(`x${"ab".repeat(31)}y`)).toBe(true);
    expect(long.test("ab".repeat(30))).toBe(false);
    // What a backtracking regex needs ages for: 40 wildcards against 1 MB that almost matches.
    const slow = likeMatcher(`${"%a".repeat(40)}%b`, false);
    if (typeof slow === "string") throw new Error(slow);
    const t0 = performance.now();
    expect(slow.test("a".repeat(1_000_000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(100);
  });

  test("string order is UTF-8 byte order without copying the value", () => {
    expect(compareValues(text, "a", "b")).toBe(-1);
    expect(compareValues(text, "ab", "a")).toBe(1);
    expect(compareValues(text, "same", "same")).toBe(0);
    // U+FF5E sorts below U+1F600 in UTF-8, though its UTF-16 unit is above the surrogate.
    expect(compareValues(text, "\uff5e", "😀")).toBe(-1);
    expect(compareValues(text, "😀", "\uff5e")).toBe(1);
  });

  test("bindings: defaults, wildcards, ids stable per params", () => {
    const b = parseBinding({ event: "insert", table: "t" });
    expect(b.ok && [b.binding.event, b.binding.schema, b.binding.table]).toEqual(["INSERT", "public", "t"]);
    expect(parseBinding({ event: "*", schema: "*" }).ok).toBe(true);
    expect(parseBinding({ event: "*", schema: "*", filter: "id=eq.1" }).ok).toBe(false);
    expect(bindingId({ a: 1, b: 2 })).toBe(bindingId({ b: 2, a: 1 }));
    expect(bindingId({ a: 1 })).toBeLessThan(2 ** 27);
  });
});

describe("values", () => {
  test("to_jsonb's JSON for text from pgoutput", () => {
    expect(valueJson(builtinType(20)!, "9007199254740993")).toBe("9007199254740993");
    expect(valueJson(builtinType(1700)!, "NaN")).toBe('"NaN"');
    expect(valueJson(builtinType(16)!, "t")).toBe("true");
    expect(valueJson(builtinType(3802)!, '{"a": [1]}')).toBe('{"a": [1]}');
    expect(valueJson(builtinType(1114)!, "2024-01-02 03:04:05.123456")).toBe('"2024-01-02T03:04:05.123456"');
    expect(valueJson(tstz, "2024-01-02 03:04:05+00")).toBe('"2024-01-02T03:04:05+00:00"');
    expect(valueJson(tstz, "2024-01-02 03:04:05+05:30")).toBe('"2024-01-02T03:04:05+05:30"');
    expect(arrayJson(int4, "{1,2,NULL}")).toBe("[1,2,null]");
    expect(arrayJson(text, '{a,"b c","d\\"e",NULL,"NULL"}')).toBe('["a","b c","d\\"e",null,"NULL"]');
    expect(arrayJson(int4, "{{1,2},{3,4}}")).toBe("[[1,2],[3,4]]");
    expect(arrayJson(int4, "[0:1]={7,8}")).toBe("[7,8]");
  });

  test("payload: UPDATE without a full replica identity carries the key as old_record; RLS deletes only the key", () => {
    const rel: RelationInfo = {
      oid: 1,
      schema: "public",
      table: "t",
      columns: [
        { name: "id", type: int4, isKey: true },
        { name: "body", type: text, isKey: false },
        { name: "secret", type: text, isKey: false },
      ],
      byName: new Map(),
      primaryKey: ["id"],
      rls: true,
      selectable: { anon: new Set(), authenticated: new Set(["id", "body"]), service_role: new Set(["id", "body", "secret"]) },
    };
    const base = { rel, commitTimestamp: "2024-01-01T00:00:00.000Z", xid: 1, oldIsKey: false };
    const update = JSON.parse(buildData({ ...base, type: "UPDATE", new: ["1", "hi", "s"], old: null }, "authenticated", null)!);
    expect(update).toEqual({
      schema: "public",
      table: "t",
      commit_timestamp: "2024-01-01T00:00:00.000Z",
      type: "UPDATE",
      columns: [
        { name: "id", type: "int4" },
        { name: "body", type: "text" },
      ],
      record: { id: 1, body: "hi" },
      old_record: { id: 1 },
      errors: null,
    });
    const del = JSON.parse(buildData({ ...base, type: "DELETE", new: null, old: ["1", "hi", "s"] }, "service_role", null)!);
    expect(del.old_record).toEqual({ id: 1 });
    // A full old row of an RLS table: its previous values were never checked, only its key is sent.
    const full = JSON.parse(buildData({ ...base, type: "UPDATE", new: ["1", "new", "s2"], old: ["1", "old", "s1"] }, "authenticated", null)!);
    expect(full.record).toEqual({ id: 1, body: "new" });
    expect(full.old_record).toEqual({ id: 1 });
    const noRls = JSON.parse(
      buildData({ ...base, rel: { ...rel, rls: false }, type: "UPDATE", new: ["1", "new", "s2"], old: ["1", "old", "s1"] }, "authenticated", null)!,
    );
    expect(noRls.old_record).toEqual({ id: 1, body: "old" });
    // The row changed before the check: the key alone, flagged.
    const keyOnly = JSON.parse(buildData({ ...base, type: "INSERT", new: ["1", "hi", "s"], old: null }, "authenticated", null, true)!);
    expect(keyOnly).toMatchObject({ columns: [{ name: "id", type: "int4" }], record: { id: 1 }, errors: [ROW_CHANGED_ERROR] });
    expect(buildData({ ...base, type: "INSERT", new: ["1", "hi", "s"], old: null }, "anon", null)).toBeNull();
    const selected = JSON.parse(buildData({ ...base, type: "INSERT", new: ["2", "x", "y"], old: null }, "service_role", ["secret"])!);
    expect(selected.record).toEqual({ id: 2, secret: "y" });
  });
});

describe("serializers", () => {
  test("vsn 1 objects and vsn 2 arrays, both ways", () => {
    expect(decodeText("1.0.0", '{"topic":"t","event":"e","payload":{},"ref":1,"join_ref":null}')).toEqual({
      joinRef: null,
      ref: "1",
      topic: "t",
      event: "e",
      payload: {},
    });
    expect(decodeText("2.0.0", '["1","2","t","e",{"a":1}]')).toEqual({ joinRef: "1", ref: "2", topic: "t", event: "e", payload: { a: 1 } });
    expect(decodeText("2.0.0", '{"topic":"t"}')).toBeNull();
    expect(JSON.parse(encodeFrame("1.0.0", "1", null, "t", "e", '{"x":1}'))).toEqual({ topic: "t", event: "e", payload: { x: 1 }, ref: null, join_ref: "1" });
    expect(JSON.parse(encodeFrame("2.0.0", null, "5", "t", "e", "{}"))).toEqual([null, "5", "t", "e", {}]);
  });

  test("binary user broadcasts: kind 3 decoded, kind 4 encoded, UTF-8 lengths in bytes", () => {
    const enc = new TextEncoder();
    const fields = ["1", "2", "realtime:é", "ev", '{"persist":true}'].map((s) => enc.encode(s));
    const body = enc.encode('{"a":"ü"}');
    const frame = new Uint8Array([3, ...fields.map((f) => f.length), 1, ...fields.flatMap((f) => [...f]), ...body]);
    const push = decodeBinary(frame)!;
    expect(push.topic).toBe("realtime:é");
    expect(push.broadcast.meta).toBe('{"persist":true}');
    expect(userBroadcastJson(push.broadcast)).toBe('{"type":"broadcast","event":"ev","payload":{"a":"ü"},"meta":{"persist":true}}');
    const out = encodeUserBroadcast("realtime:é", push.broadcast)!;
    expect([...out.subarray(0, 5)]).toEqual([4, enc.encode("realtime:é").length, 2, 16, 1]);
    expect(encodeUserBroadcast("x".repeat(300), push.broadcast)).toBeNull();
    expect(decodeBinary(new Uint8Array([3, 9, 9, 9, 9, 9, 1]))).toBeNull();
  });
});

describe("pgoutput", () => {
  test("decodes relation, insert with a null and an unchanged TOAST value, and truncate", () => {
    const rel = Buffer.concat([
      Buffer.from("R"),
      u32(16384),
      Buffer.from("public\0t\0"),
      Buffer.from("d"),
      u16(2),
      Buffer.from([1]),
      Buffer.from("id\0"),
      u32(23),
      u32(0xffffffff),
      Buffer.from([0]),
      Buffer.from("doc\0"),
      u32(25),
      u32(0xffffffff),
    ]);
    expect(decodePgOutput(rel)).toEqual({
      tag: "relation",
      oid: 16384,
      schema: "public",
      table: "t",
      replicaIdentity: "d",
      columns: [
        { isKey: true, name: "id", typeOid: 23, typmod: -1 },
        { isKey: false, name: "doc", typeOid: 25, typmod: -1 },
      ],
    });
    const ins = Buffer.concat([
      Buffer.from("I"),
      u32(16384),
      Buffer.from("N"),
      u16(3),
      Buffer.from("t"),
      u32(2),
      Buffer.from("42"),
      Buffer.from("n"),
      Buffer.from("u"),
    ]);
    expect(decodePgOutput(ins)).toEqual({ tag: "insert", relation: 16384, new: ["42", null, undefined] });
    const trunc = Buffer.concat([Buffer.from("T"), u32(1), Buffer.from([0]), u32(16384)]);
    expect(decodePgOutput(trunc)).toEqual({ tag: "truncate", relations: [16384], cascade: false, restartIdentity: false });
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
