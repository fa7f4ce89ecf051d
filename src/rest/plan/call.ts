// RPC plans: which overload a call means, its arguments, and how its result is shaped.
import { tableKey, type Routine } from "../../schema-cache/types.ts";
import type { QueryAst } from "../parse/ast.ts";
import { ambiguousFunction, invalidBody, noFunction } from "../errors.ts";
import { cached } from "../sql/ident.ts";
import type { CallPlan } from "./types.ts";
import type { PlanContext } from "./read.ts";
import { similarity } from "./similar.ts";

const JSON_TYPES = new Set(["json", "jsonb"]);

export interface ResolvedCall {
  routine: Routine;
  args: CallPlan["args"];
  /** Query parameters consumed as arguments (not filters). */
  argKeys: Set<string>;
}

const required = (r: Routine) => r.params.filter((p) => !p.hasDefault);
const singleUnnamed = (r: Routine) => r.params.length === 1 && r.params[0]!.name === "";

/**
 * PostgREST only exposes functions whose parameters are all named, or that take one unnamed
 * parameter of a type a raw body can fill (json, jsonb, text, xml, bytea). The unnamed one is called
 * with the key "" (`rpc('f', {'': value})`) or, for json/jsonb, with the whole body.
 */
const RAW_BODY_TYPES = new Set(["json", "jsonb", "text", "xml", "bytea"]);
const callable = (r: Routine) => r.params.every((p) => p.name !== "") || (singleUnnamed(r) && RAW_BODY_TYPES.has(r.params[0]!.baseType));

/** PostgREST's matchesParams: required parameters all given, and nothing given that is not a parameter. */
function matchesKeys(r: Routine, keys: string[]): boolean {
  if (r.params.length === 0) return keys.length === 0;
  const names = new Set(r.params.map((p) => p.name));
  return keys.every((k) => names.has(k)) && required(r).every((p) => keys.includes(p.name));
}

export function resolveCall(ctx: PlanContext, name: string, ast: QueryAst, post: { body: unknown } | null): ResolvedCall {
  const overloads = (ctx.cache.routines.get(tableKey(ctx.schema, name)) ?? []).filter(callable);
  if (post) {
    const body = post.body;
    const isObject = typeof body === "object" && body !== null && !Array.isArray(body);
    const keys = isObject ? Object.keys(body as object) : [];
    const named = isObject ? overloads.filter((r) => matchesKeys(r, keys)) : [];
    if (named.length > 1) throw ambiguous(named);
    const pick = named[0];
    if (pick) {
      const obj = body as Record<string, unknown>;
      return {
        routine: pick,
        argKeys: new Set(),
        args: {
          kind: "named",
          values: pick.params
            .filter((p) => Object.hasOwn(obj, p.name))
            .map((p) => ({ param: cached(p.name), type: p.type, value: obj[p.name], variadic: p.variadic })),
        },
      };
    }
    // Fallback: one unnamed json/jsonb parameter takes the whole body.
    const single = overloads.filter((r) => singleUnnamed(r) && JSON_TYPES.has(r.params[0]!.baseType));
    if (single.length > 1) throw ambiguous(single);
    if (single.length === 1) return { routine: single[0]!, argKeys: new Set(), args: { kind: "single", type: single[0]!.params[0]!.type, body } };
    if (!isObject && body !== undefined) throw invalidBody("Empty or invalid json");
    throw noFunction(ctx.schema, name, keys, true, suggestFunction(ctx, name));
  }
  // GET/HEAD: query parameters named like parameters are arguments; the rest are filters.
  const given = new Map<string, string>();
  for (const [k, v] of ast.rpcArgs) given.set(k, v);
  const noOpKeys = new Set(
    ast.rpcArgs.filter(([k]) => !ast.filters.some((f) => f.path.length === 0 && f.filter.field.name === k && f.filter.field.json.length === 0)).map(([k]) => k),
  );
  const candidates = overloads.filter((r) => {
    if (!r.params.every((p) => p.name !== "")) return r.params.length === 0 && noOpKeys.size === 0;
    const names = new Set(r.params.map((p) => p.name));
    return [...noOpKeys].every((k) => names.has(k)) && required(r).every((p) => given.has(p.name));
  });
  const argCount = (r: Routine) => r.params.filter((p) => given.has(p.name)).length;
  const pick = choose(candidates, Math.max(0, ...candidates.map(argCount)), argCount);
  if (!pick) throw noFunction(ctx.schema, name, [...given.keys()], false, suggestFunction(ctx, name));
  const values = pick.params
    .filter((p) => given.has(p.name))
    .map((p) => ({ param: cached(p.name), type: p.type, value: getArgValue(given.get(p.name)!, p.baseType), variadic: p.variadic }));
  return { routine: pick, argKeys: new Set(values.map((v) => v.param.name)), args: { kind: "named", values } };
}

/** A GET argument is text; json parameters get the parsed JSON when it parses. */
function getArgValue(raw: string, baseType: string): unknown {
  if (JSON_TYPES.has(baseType)) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function choose(list: Routine[], argCount: number, count: (r: Routine) => number = () => argCount): Routine | null {
  if (list.length === 0) return null;
  if (list.length === 1) return list[0]!;
  // Prefer the overload whose parameter count equals the arguments given (no defaults used).
  const exact = list.filter((r) => r.params.length === count(r) && count(r) === argCount);
  if (exact.length === 1) return exact[0]!;
  throw ambiguous(list);
}

/** PGRST203, candidates in the order of their argument lists (as PostgREST lists them). */
function ambiguous(list: Routine[]) {
  const key = (r: Routine) => r.params.map((p) => `${p.name} ${p.type}`).join(", ");
  const sorted = [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return ambiguousFunction(sorted.map((r) => `${r.schema}.${r.name}(${r.params.map((p) => `${p.name} => ${p.type}`).join(", ")})`));
}

/** The closest callable function name in the schema, for the hint of PGRST202. */
function suggestFunction(ctx: PlanContext, name: string): string | undefined {
  let best: string | undefined;
  let bestScore = 0.75;
  for (const [key, list] of ctx.cache.routines) {
    const r = list.find(callable);
    if (!r || r.schema !== ctx.schema || r.name === name || key === "") continue;
    const sc = similarity(name.toLowerCase(), r.name.toLowerCase());
    if (sc > bestScore) {
      bestScore = sc;
      best = `${r.schema}.${r.name}`;
    }
  }
  return best;
}
