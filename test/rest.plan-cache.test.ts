// The read plan cache (src/rest/plan-cache.ts) must be invisible: for every query, the statement it
// binds is exactly the one planning the request afresh produces — same SQL text, same parameters —
// and values it cannot stand in for keep the shape out of the cache.
import { describe, expect, test } from "bun:test";
import { startRestServer } from "./support/rest.ts";
import { createSchemaCache } from "../src/schema-cache/live.ts";
import { createLogger } from "../src/log.ts";
import { planRequest } from "../src/rest/plan/plan.ts";
import type { RestRequest } from "../src/rest/parse/request.ts";
import { readStatement } from "../src/rest/sql/statements.ts";
import { bind, PlanCache, shapeOf } from "../src/rest/plan-cache.ts";

const srv = await startRestServer();
const live = await createSchemaCache({ sql: srv.admin, schemas: ["public"], log: createLogger("silent") });
const cache = live.current;
const headers: RestRequest["headers"] = { accept: null, prefer: [], range: null, acceptProfile: null, contentProfile: null, contentType: null };

const QUERIES = [
  "id=eq.42",
  "id=eq.7&select=id,title",
  "select=title,author:authors!author_id(name)&id=gt.3&order=id.desc&limit=5",
  "title=neq.Dune&price=lte.20.5&published=gte.2020-01-01",
  "title=not.eq.x&title=match.^D&title=imatch.dune",
  "meta->>lang=eq.en&meta->size=gt.3",
  "select=id,book_genres(genre_id)&book_genres.genre_id=eq.2",
  "mood=isdistinct.happy&id=lt.100",
  "id=eq.1&id=eq.2",
  'title=eq.a,b(c)"d"',
  "title=eq.",
  "title=eq.\u0001plinth-value-0\u0001",
  "tags=cs.{a,b}&id=eq.3",
  "id=in.(1,2,3)&title=eq.x",
  "or=(id.eq.1,id.eq.2)&title=eq.x",
  "title=like.D*&id=eq.5",
  "title=is.null&id=eq.9",
  "search=fts(english).dune&id=gte.1",
];

function fresh(query: Array<[string, string]>) {
  const planned = planRequest(cache, { method: "GET", target: { kind: "table", name: "books" }, query, headers, body: null });
  return readStatement(planned.plan as Parameters<typeof readStatement>[0], { guard: true });
}

describe("plan cache", () => {
  test("a bound statement is the freshly planned statement, value for value", () => {
    const plans = new PlanCache();
    let cached = 0;
    for (const q of QUERIES) {
      const query = [...new URLSearchParams(q)];
      // Twice: the first plans the shape, the second must come from the cache.
      for (let i = 0; i < 2; i++) {
        const shape = shapeOf("GET\u0000books", query);
        const entry = plans.lookup(cache, shape, (sq) =>
          planRequest(cache, { method: "GET", target: { kind: "table", name: "books" }, query: sq, headers, body: null }),
        );
        let want: ReturnType<typeof fresh>;
        try {
          want = fresh(query);
        } catch {
          expect([q, entry]).toEqual([q, null]); // what fails to plan is never cached
          continue;
        }
        if (!entry) continue;
        const got = bind(entry, shape.values);
        expect([q, got.text]).toEqual([q, want.text]);
        expect([q, got.params]).toEqual([q, want.params]);
        if (shape.values.length) cached++;
      }
    }
    expect(cached).toBeGreaterThan(20);
  });

  test("500 random queries: cached and fresh statements agree", () => {
    const plans = new PlanCache();
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const pick = <T>(xs: T[]) => xs[rnd(xs.length)]!;
    const keys = ["id", "title", "price", "published", "meta->>lang", "meta->n", "mood", "tags", "authors.name", "not", "select", "order", "limit"];
    const ops = [
      "eq",
      "neq",
      "gt",
      "gte",
      "lt",
      "lte",
      "not.eq",
      "not.gt",
      "like",
      "ilike",
      "in",
      "is",
      "match",
      "imatch",
      "isdistinct",
      "cs",
      "fts",
      "eq(any)",
    ];
    const vals = ["1", "", "x,y", "(1,2)", "{a}", "null", "%", "*", "'; drop table books; --", "\u0001", "a.b", "é", "2020-01-01", "-5.5"];
    let agreed = 0;
    for (let i = 0; i < 500; i++) {
      const query: Array<[string, string]> = [];
      const n = 1 + rnd(3);
      for (let j = 0; j < n; j++) query.push([pick(keys), `${pick(ops)}.${pick(vals)}`]);
      if (rnd(3) === 0) query.push(["select", pick(["id", "id,title", "title,authors!author_id(name)"])]);
      for (let k = 0; k < 2; k++) {
        const shape = shapeOf("GET\u0000books", query);
        const entry = plans.lookup(cache, shape, (sq) =>
          planRequest(cache, { method: "GET", target: { kind: "table", name: "books" }, query: sq, headers, body: null }),
        );
        let want: ReturnType<typeof fresh> | null = null;
        try {
          want = fresh(query);
        } catch {
          /* refused: then it must not be cached */
        }
        if (!want) {
          expect(entry).toBeNull();
          continue;
        }
        if (!entry) continue;
        const got = bind(entry, shape.values);
        expect(got.text).toBe(want.text);
        expect(got.params).toEqual(want.params);
        agreed++;
      }
    }
    expect(agreed).toBeGreaterThan(100);
  });

  test("shapes share entries across values; stand-ins never reach SQL text", () => {
    const plans = new PlanCache();
    const plan = (sq: Array<[string, string]>) =>
      planRequest(cache, { method: "GET", target: { kind: "table", name: "books" }, query: sq, headers, body: null });
    const a = plans.lookup(cache, shapeOf("k", [["id", "eq.1"]]), plan);
    const b = plans.lookup(cache, shapeOf("k", [["id", "eq.2"]]), plan);
    expect(a).not.toBeNull();
    expect(b).toBe(a!);
    expect(a!.statement.text).not.toContain("\u0001");
    expect(bind(a!, ["99"]).params[a!.slots[0]!]).toBe("99");
    // Values the planner transforms (like's *) or parses (in lists) are part of the shape instead.
    const like1 = shapeOf("k", [["title", "like.A*"]]);
    const like2 = shapeOf("k", [["title", "like.B*"]]);
    expect(like1.key).not.toBe(like2.key);
    expect(like1.values).toEqual([]);
    // select/order/limit and logic trees are never taken apart.
    expect(
      shapeOf("k", [
        ["select", "eq.x"],
        ["or", "(id.eq.1)"],
        ["limit", "eq.1"],
      ]).values,
    ).toEqual([]);
    // A shape that fails to plan is remembered as not cacheable; the real request reports the error.
    expect(plans.lookup(cache, shapeOf("k", [["nope", "eq.1"]]), plan)).toBeNull();
    expect(() => plan([["nope", "eq.1"]])).toThrow();
  });

  test("a new schema cache empties it", async () => {
    const plans = new PlanCache();
    const plan = (sq: Array<[string, string]>) =>
      planRequest(cache, { method: "GET", target: { kind: "table", name: "books" }, query: sq, headers, body: null });
    const first = plans.lookup(cache, shapeOf("k", [["id", "eq.1"]]), plan);
    const next = await live.reload();
    const second = plans.lookup(next, shapeOf("k", [["id", "eq.1"]]), (sq) =>
      planRequest(next, { method: "GET", target: { kind: "table", name: "books" }, query: sq, headers, body: null }),
    );
    expect(second).not.toBe(first);
    await live.stop();
  });
});
