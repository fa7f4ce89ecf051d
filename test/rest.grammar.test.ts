// Table-driven unit tests of the REST grammar (parse/): one case per feature, plus the refusals.
import { describe, expect, test } from "bun:test";
import { parseLogic, parseOpExpr, parseTreePath } from "../src/rest/parse/filter.ts";
import { negotiate, parsePrefer, parseRangeHeader } from "../src/rest/parse/headers.ts";
import { parseOrder, parseQuery } from "../src/rest/parse/query.ts";
import { parseSelect } from "../src/rest/parse/select.ts";
import { parseCsv } from "../src/rest/parse/csv.ts";
import { PlinthError } from "../src/errors.ts";

const f = (name: string, json: Array<["->" | "->>", string, boolean?]> = []) => ({
  name,
  json: json.map(([arrow, key, index]) => ({ arrow, key, index: !!index })),
});

describe("select", () => {
  const cases: Array<[string, unknown]> = [
    ["*", [{ kind: "star" }]],
    [
      "id,name",
      [
        { kind: "field", field: f("id") },
        { kind: "field", field: f("name") },
      ].map((x) => ({ ...x, alias: undefined, cast: undefined, agg: undefined, aggCast: undefined })),
    ],
    ["n:name", [{ kind: "field", field: f("name"), alias: "n", cast: undefined, agg: undefined, aggCast: undefined }]],
    ["price::text", [{ kind: "field", field: f("price"), alias: undefined, cast: "text", agg: undefined, aggCast: undefined }]],
    [
      "meta->a->>b",
      [
        {
          kind: "field",
          field: f("meta", [
            ["->", "a"],
            ["->>", "b"],
          ]),
          alias: undefined,
          cast: undefined,
          agg: undefined,
          aggCast: undefined,
        },
      ],
    ],
    [
      "meta->0->>-1",
      [
        {
          kind: "field",
          field: f("meta", [
            ["->", "0", true],
            ["->>", "-1", true],
          ]),
          alias: undefined,
          cast: undefined,
          agg: undefined,
          aggCast: undefined,
        },
      ],
    ],
    ['"weird, name"', [{ kind: "field", field: f("weird, name"), alias: undefined, cast: undefined, agg: undefined, aggCast: undefined }]],
    ["count()", [{ kind: "count", alias: undefined, aggCast: undefined }]],
    ["total:count()::int", [{ kind: "count", alias: "total", aggCast: "int" }]],
    ["amount.sum()", [{ kind: "field", field: f("amount"), alias: undefined, cast: undefined, agg: "sum", aggCast: undefined }]],
    ["a:amount::int.avg()::text", [{ kind: "field", field: f("amount"), alias: "a", cast: "int", agg: "avg", aggCast: "text" }]],
    [
      "authors(name)",
      [
        {
          kind: "embed",
          name: "authors",
          alias: undefined,
          spread: false,
          children: [{ kind: "field", field: f("name"), alias: undefined, cast: undefined, agg: undefined, aggCast: undefined }],
        },
      ],
    ],
    [
      "w:authors!author_id!inner(*)",
      [{ kind: "embed", name: "authors", alias: "w", hint: "author_id", join: "inner", spread: false, children: [{ kind: "star" }] }],
    ],
    ["authors!left(*)", [{ kind: "embed", name: "authors", alias: undefined, join: "left", spread: false, children: [{ kind: "star" }] }]],
    [
      "...authors(name)",
      [
        {
          kind: "embed",
          name: "authors",
          spread: true,
          children: [{ kind: "field", field: f("name"), alias: undefined, cast: undefined, agg: undefined, aggCast: undefined }],
        },
      ],
    ],
    [
      "a(b(c(*)))",
      [
        {
          kind: "embed",
          name: "a",
          alias: undefined,
          spread: false,
          children: [
            {
              kind: "embed",
              name: "b",
              alias: undefined,
              spread: false,
              children: [{ kind: "embed", name: "c", alias: undefined, spread: false, children: [{ kind: "star" }] }],
            },
          ],
        },
      ],
    ],
    ["cities()", [{ kind: "embed", name: "cities", alias: undefined, spread: false, children: [] }]],
    ["my-col", [{ kind: "field", field: f("my-col"), alias: undefined, cast: undefined, agg: undefined, aggCast: undefined }]],
  ];
  for (const [input, expected] of cases) test(input, () => expect(parseSelect(input)).toEqual(expected as never));

  for (const bad of ["id,", "a(", "a)", "a::", "x.nope()", "a!(b)", "*x", "a->", "a(b)c", "count(*)", "a:", ",", "a,,b"]) {
    test(`refuses ${bad}`, () => {
      try {
        parseSelect(bad);
        throw new Error("parsed");
      } catch (e) {
        expect(e).toBeInstanceOf(PlinthError);
        expect((e as PlinthError).code).toBe("PGRST100");
        expect((e as PlinthError).message).not.toContain("line");
      }
    });
  }
});

describe("filters", () => {
  const cases: Array<[string, unknown]> = [
    ["eq.1", { not: false, operation: { op: "eq", quant: undefined, value: "1" } }],
    ["neq.a.b", { not: false, operation: { op: "neq", value: "a.b" } }],
    ["gt.1", { not: false, operation: { op: "gt", quant: undefined, value: "1" } }],
    ["gte.1", { not: false, operation: { op: "gte", quant: undefined, value: "1" } }],
    ["lt.1", { not: false, operation: { op: "lt", quant: undefined, value: "1" } }],
    ["lte.1", { not: false, operation: { op: "lte", quant: undefined, value: "1" } }],
    ["like.*a*", { not: false, operation: { op: "like", quant: undefined, value: "*a*" } }],
    ["ilike.A*", { not: false, operation: { op: "ilike", quant: undefined, value: "A*" } }],
    ["match.^a", { not: false, operation: { op: "match", quant: undefined, value: "^a" } }],
    ["imatch.^a", { not: false, operation: { op: "imatch", quant: undefined, value: "^a" } }],
    ["like(any).{a*,b*}", { not: false, operation: { op: "like", quant: "any", value: "{a*,b*}" } }],
    ["eq(all).{1,2}", { not: false, operation: { op: "eq", quant: "all", value: "{1,2}" } }],
    ["is.null", { not: false, operation: { op: "is", value: "null" } }],
    ["is.NOT_NULL", { not: false, operation: { op: "is", value: "not_null" } }],
    ["is.true", { not: false, operation: { op: "is", value: "true" } }],
    ["is.unknown", { not: false, operation: { op: "is", value: "unknown" } }],
    ["isdistinct.x", { not: false, operation: { op: "isdistinct", value: "x" } }],
    ['in.(1,"a,b",c)', { not: false, operation: { op: "in", values: ["1", "a,b", "c"] } }],
    ['in.("a\\"b")', { not: false, operation: { op: "in", values: ['a"b'] } }],
    ["in.()", { not: false, operation: { op: "in", values: [] } }],
    ["cs.{a,b}", { not: false, operation: { op: "cs", value: "{a,b}" } }],
    ['cd.{"a":1}', { not: false, operation: { op: "cd", value: '{"a":1}' } }],
    ["ov.[1,5)", { not: false, operation: { op: "ov", value: "[1,5)" } }],
    ["sl.(1,2)", { not: false, operation: { op: "sl", value: "(1,2)" } }],
    ["sr.(1,2)", { not: false, operation: { op: "sr", value: "(1,2)" } }],
    ["nxl.(1,2)", { not: false, operation: { op: "nxl", value: "(1,2)" } }],
    ["nxr.(1,2)", { not: false, operation: { op: "nxr", value: "(1,2)" } }],
    ["adj.(1,2)", { not: false, operation: { op: "adj", value: "(1,2)" } }],
    ["fts.cat", { not: false, operation: { op: "fts", config: undefined, value: "cat" } }],
    ["plfts(english).fat cat", { not: false, operation: { op: "plfts", config: "english", value: "fat cat" } }],
    ["phfts.a", { not: false, operation: { op: "phfts", config: undefined, value: "a" } }],
    ["wfts(simple).a -b", { not: false, operation: { op: "wfts", config: "simple", value: "a -b" } }],
    ["not.eq.1", { not: true, operation: { op: "eq", quant: undefined, value: "1" } }],
    ["not.in.(1)", { not: true, operation: { op: "in", values: ["1"] } }],
  ];
  for (const [input, expected] of cases) test(input, () => expect(parseOpExpr(input)).toEqual(expected as never));

  for (const bad of ["", "eq", "nope.1", "in.1", "in.(1", "is.maybe", "fts(.a", "not.", "like(some).x"]) {
    test(`refuses ${JSON.stringify(bad)}`, () => expect(() => parseOpExpr(bad)).toThrow(PlinthError));
  }

  test("tree paths", () => {
    expect(parseTreePath("a.b.c->>d")).toEqual({ path: ["a", "b"], field: f("c", [["->>", "d"]]) });
    expect(parseTreePath("id")).toEqual({ path: [], field: f("id") });
  });

  test("logic trees", () => {
    expect(parseLogic("or", '(a.eq.1,and(b.gt.2,c.not.is.null),not.or(d.in.(1,2),e.eq."x,y"))')).toEqual({
      path: [],
      tree: {
        kind: "logic",
        not: false,
        op: "or",
        children: [
          { kind: "filter", filter: { field: f("a"), expr: { not: false, operation: { op: "eq", quant: undefined, value: "1" } } } },
          {
            kind: "logic",
            not: false,
            op: "and",
            children: [
              { kind: "filter", filter: { field: f("b"), expr: { not: false, operation: { op: "gt", quant: undefined, value: "2" } } } },
              { kind: "filter", filter: { field: f("c"), expr: { not: true, operation: { op: "is", value: "null" } } } },
            ],
          },
          {
            kind: "logic",
            not: true,
            op: "or",
            children: [
              { kind: "filter", filter: { field: f("d"), expr: { not: false, operation: { op: "in", values: ["1", "2"] } } } },
              { kind: "filter", filter: { field: f("e"), expr: { not: false, operation: { op: "eq", quant: undefined, value: "x,y" } } } },
            ],
          },
        ],
      },
    });
    expect(parseLogic("books.not.and", '(a.cs.{1,2},b.cd.{"k":[1,2]})').path).toEqual(["books"]);
    expect(() => parseLogic("or", "(a.eq.1")).toThrow(PlinthError);
    expect(() => parseLogic("or", "a.eq.1")).toThrow(PlinthError);
  });
});

describe("order, query, headers", () => {
  test("order", () => {
    expect(parseOrder("a.desc.nullslast,b,c.asc,authors(name).desc,m->x.nullsfirst")).toEqual([
      { field: f("a"), direction: "desc", nulls: "last" },
      { field: f("b") },
      { field: f("c"), direction: "asc" },
      { relation: "authors", field: f("name"), direction: "desc" },
      { field: f("m", [["->", "x"]]), nulls: "first" },
    ]);
    expect(() => parseOrder("a.sideways")).toThrow(PlinthError);
  });

  test("query splits reserved, embedded and filter parameters", () => {
    const q = parseQuery([
      ["select", "id,b(c)"],
      ["id", "eq.1"],
      ["b.c", "gt.2"],
      ["b.order", "c.desc"],
      ["b.limit", "3"],
      ["limit", "10"],
      ["offset", "5"],
      ["or", "(id.eq.1,id.eq.2)"],
      ["columns", '"a","b"'],
      ["on_conflict", "a"],
    ]);
    expect(q.filters.map((x) => [x.path, x.filter.field.name])).toEqual([
      [[], "id"],
      [["b"], "c"],
    ]);
    expect(q.ranges.get("")).toEqual({ limit: 10, offset: 5 });
    expect(q.ranges.get("b")).toEqual({ limit: 3 });
    expect(q.columns).toEqual(["a", "b"]);
    expect(q.onConflict).toEqual(["a"]);
    expect(q.logic).toHaveLength(1);
    expect(() => parseQuery([["limit", "-1"]])).toThrow(PlinthError);
  });

  test("rpc reads keep operator-less parameters as arguments", () => {
    const q = parseQuery(
      [
        ["a", "1"],
        ["b", "eq.2"],
      ],
      { rpcRead: true },
    );
    expect(q.rpcArgs).toEqual([
      ["a", "1"],
      ["b", "eq.2"],
    ]);
  });

  test("prefer", () => {
    const p = parsePrefer([
      "return=representation, count=exact",
      "resolution=merge-duplicates,missing=default,tx=rollback,handling=strict,max-affected=5,bogus",
    ]);
    expect(p).toMatchObject({
      return: "representation",
      count: "exact",
      resolution: "merge-duplicates",
      missing: "default",
      tx: "rollback",
      handling: "strict",
      maxAffected: 5,
      invalid: ["bogus"],
    });
  });

  test("range header", () => {
    expect(parseRangeHeader("0-9")).toEqual({ offset: 0, limit: 10 });
    expect(parseRangeHeader("5-")).toEqual({ offset: 5 });
    expect(parseRangeHeader(null)).toBeNull();
    expect(() => parseRangeHeader("9-1")).toThrow(PlinthError);
  });

  test("accept", () => {
    expect(negotiate(null).media.kind).toBe("json");
    expect(negotiate("application/vnd.pgrst.object+json").media.kind).toBe("object");
    expect(negotiate("application/vnd.pgrst.object+json;nulls=stripped").stripNulls).toBe(true);
    expect(negotiate("application/vnd.pgrst.array+json;nulls=stripped").stripNulls).toBe(true);
    expect(negotiate("text/csv").media.kind).toBe("csv");
    expect(negotiate("text/html, */*;q=0.8").media.kind).toBe("json");
    expect(() => negotiate("text/html")).toThrow(PlinthError);
  });

  test("csv bodies", () => {
    expect(parseCsv('id,name\n1,"a, ""b"""\n2,NULL\n')).toEqual([
      { id: "1", name: 'a, "b"' },
      { id: "2", name: null },
    ]);
  });
});
