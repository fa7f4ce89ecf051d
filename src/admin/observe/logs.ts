// GET /admin/v1/logs: the server's recent log lines from the logger's in-memory ring (src/log.ts),
// filtered by level (that level and above) and area, after a cursor (the `seq` of the last line
// seen) for following. The logger redacts secret-looking field names at the top level; nested
// objects (an error's details, a caller's fields) are redacted again here, so nothing secret leaves.
import { redact, type LogFields, type LogRing } from "../../log.ts";
import { AdminErrors } from "../errors.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;
export const LOG_AREAS = ["auth", "rest", "storage", "realtime", "admin", "system"] as const;
const AREA_OF_PATH = /^\/(auth|rest|storage|realtime|admin)\/v1(\/|$)/;

export interface LogQuery {
  level: (typeof LEVELS)[number];
  area: (typeof LOG_AREAS)[number] | null;
  after: number;
  limit: number;
}

export function parseLogQuery(q: Record<string, string | undefined>): LogQuery {
  const level = (q.level || "debug") as LogQuery["level"];
  if (!LEVELS.includes(level)) throw AdminErrors.validation(`level must be one of ${LEVELS.join(", ")}`);
  const area = (q.area || null) as LogQuery["area"];
  if (area !== null && !LOG_AREAS.includes(area)) throw AdminErrors.validation(`area must be one of ${LOG_AREAS.join(", ")}`);
  const after = q.after ? Number(q.after) : 0;
  if (!Number.isSafeInteger(after) || after < 0) throw AdminErrors.validation("after must be a line's seq (a non-negative integer)");
  const limit = q.limit ? Number(q.limit) : 200;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw AdminErrors.validation("limit must be an integer from 1 to 1000");
  return { level, area, after, limit };
}

/** A line's API area: from its request path, else "system". */
export function areaOfLine(line: LogFields): string {
  const path = typeof line.path === "string" ? line.path : null;
  return (path && AREA_OF_PATH.exec(path)?.[1]) || "system";
}

function deepRedact(v: unknown, depth = 0): unknown {
  if (depth > 6) return "[…]";
  if (Array.isArray(v)) return v.map((x) => deepRedact(x, depth + 1));
  if (v && typeof v === "object") {
    const out = redact(v as LogFields);
    for (const k in out) if (out[k] !== "[redacted]") out[k] = deepRedact(out[k], depth + 1);
    return out;
  }
  return v;
}

export function readLogs(ring: LogRing | undefined, q: LogQuery) {
  if (!ring) return { lines: [], cursor: 0, kept: 0 };
  const min = LEVELS.indexOf(q.level);
  const lines: { seq: number; area: string; line: LogFields }[] = [];
  for (const { seq, line } of ring.since(q.after)) {
    if (LEVELS.indexOf(line.level as LogQuery["level"]) < min) continue;
    const area = areaOfLine(line);
    if (q.area && area !== q.area) continue;
    lines.push({ seq, area, line });
  }
  // The newest `limit` lines when there are more; the cursor is the ring's newest line, so a
  // follower never re-reads lines the filter skipped.
  const page = lines.slice(-q.limit);
  return {
    lines: page.map(({ seq, area, line }) => {
      const { time, level, msg, ...fields } = deepRedact(line) as LogFields;
      return { seq, time, level, area, msg, fields };
    }),
    cursor: ring.seq,
    kept: ring.size,
  };
}
