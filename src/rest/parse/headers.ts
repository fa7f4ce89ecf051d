// Request headers PostgREST reads: Prefer, Range, Accept (media types) and the profile headers.
import type { Preferences } from "./ast.ts";
import { invalidRange, mediaTypeError } from "../errors.ts";

export function parsePrefer(headers: string[]): Preferences {
  const prefs: Preferences = { invalid: [] };
  for (const header of headers) {
    for (const raw of header.split(",")) {
      const token = raw.trim();
      if (!token) continue;
      const [k, v = ""] = token.split("=", 2).map((s) => s.trim()) as [string, string?];
      switch (k) {
        case "return":
          if (v === "minimal" || v === "headers-only" || v === "representation") prefs.return = v;
          else prefs.invalid.push(token);
          break;
        case "count":
          if (v === "exact" || v === "planned" || v === "estimated") prefs.count = v;
          else prefs.invalid.push(token);
          break;
        case "resolution":
          if (v === "merge-duplicates" || v === "ignore-duplicates") prefs.resolution = v;
          else prefs.invalid.push(token);
          break;
        case "missing":
          if (v === "default" || v === "null") prefs.missing = v;
          else prefs.invalid.push(token);
          break;
        case "tx":
          if (v === "commit" || v === "rollback") prefs.tx = v;
          else prefs.invalid.push(token);
          break;
        case "handling":
          if (v === "strict" || v === "lenient") prefs.handling = v;
          else prefs.invalid.push(token);
          break;
        case "max-affected": {
          const n = Number(v);
          if (/^\d+$/.test(v) && Number.isSafeInteger(n)) prefs.maxAffected = n;
          else prefs.invalid.push(token);
          break;
        }
        case "params":
          if (v === "single-object") prefs.params = v;
          else prefs.invalid.push(token);
          break;
        case "timezone":
          prefs.timezone = v;
          break;
        case "plinth-file-refs":
          if (v === "expand") prefs.fileRefs = v;
          else prefs.invalid.push(token);
          break;
        default:
          prefs.invalid.push(token);
      }
    }
  }
  return prefs;
}

/** `Range: 0-9` (items). Returns null when absent; throws 416 when malformed or inverted. */
export function parseRangeHeader(value: string | null): { offset: number; limit?: number } | null {
  if (!value) return null;
  const m = /^\s*(?:items=)?(\d+)-(\d*)\s*$/.exec(value);
  if (!m) return null; // PostgREST ignores ranges it cannot read
  const from = Number(m[1]);
  if (m[2] === "") return { offset: from };
  const to = Number(m[2]);
  if (to < from) throw invalidRange("The lower boundary must be lower than or equal to the upper boundary in the Range header.");
  return { offset: from, limit: to - from + 1 };
}

export type MediaType =
  | { kind: "json" }
  | { kind: "object" }
  | { kind: "csv" }
  /**
   * A GeoJSON FeatureCollection of the rows (Accept: application/geo+json), PostgREST's: PostGIS's
   * st_asgeojson(row) per row. The planner fills in `fn` from the schema cache (absent: refused).
   */
  | { kind: "geojson"; fn?: { schema: string; name: string } }
  | { kind: "openapi" }
  /** EXPLAIN of the query (Accept: application/vnd.pgrst.plan+json|text; options=analyze|verbose|…). */
  | { kind: "plan"; format: "json" | "text"; options: PlanOption[]; for: string };

export type PlanOption = "analyze" | "verbose" | "settings" | "buffers" | "wal";
const PLAN_OPTION_ORDER: readonly PlanOption[] = ["analyze", "verbose", "settings", "buffers", "wal"];

export interface Negotiated {
  media: MediaType;
  stripNulls: boolean;
}

/** Picks the response media type from Accept, as PostgREST does (first acceptable wins). */
export function negotiate(accept: string | null, opts: { root?: boolean } = {}): Negotiated {
  if (!accept || !accept.trim()) return { media: opts.root ? { kind: "openapi" } : { kind: "json" }, stripNulls: false };
  const offered: string[] = [];
  const entries = accept
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => {
      const [type = "", ...params] = s.split(";").map((p) => p.trim());
      const q = params.find((p) => p.startsWith("q="));
      return { type: type.toLowerCase(), params, q: q ? Number(q.slice(2)) : 1, i };
    })
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const e of entries) {
    offered.push(e.type);
    const stripNulls = e.params.some((p) => p.replace(/\s/g, "") === "nulls=stripped");
    switch (e.type) {
      case "application/json":
      case "application/*":
      case "*/*":
        return { media: opts.root && e.type !== "application/json" ? { kind: "openapi" } : { kind: "json" }, stripNulls: false };
      case "application/vnd.pgrst.array+json":
        return { media: { kind: "json" }, stripNulls };
      case "application/vnd.pgrst.object+json":
      case "application/vnd.pgrst.object":
        return { media: { kind: "object" }, stripNulls };
      case "text/csv":
        return { media: { kind: "csv" }, stripNulls: false };
      case "application/geo+json":
        return { media: { kind: "geojson" }, stripNulls: false };
      case "application/vnd.pgrst.plan":
      case "application/vnd.pgrst.plan+json":
      case "application/vnd.pgrst.plan+text": {
        const param = (name: string) =>
          e.params
            .find((p) => p.toLowerCase().startsWith(name + "="))
            ?.slice(name.length + 1)
            .replace(/^"|"$/g, "")
            .trim();
        const asked = new Set(
          (param("options") ?? "")
            .replace(/;$/, "")
            .split("|")
            .map((o) => o.trim().toLowerCase()),
        );
        // PostgREST's order whatever the request's (it is echoed in the Content-Type), each once.
        const options = PLAN_OPTION_ORDER.filter((o) => asked.has(o));
        const format = e.type.endsWith("+json") ? "json" : "text";
        return { media: { kind: "plan", format, options, for: param("for") ?? "application/json" }, stripNulls: false };
      }
      case "application/openapi+json":
        if (opts.root) return { media: { kind: "openapi" }, stripNulls: false };
        break;
      default:
        break;
    }
  }
  throw mediaTypeError(offered);
}
