// The JSON shapes of user migrations, shared by `plinth migrate … --json` and /admin/v1/migrations
// (snake_case, like the rest of Plinth's JSON): one renderer per shape.
import type { HistoryEntry, MigrationState, StepReport } from "../../db/migrations/user.ts";

export function statusJson(s: MigrationState) {
  return {
    version: s.version,
    name: s.name,
    applied: s.applied,
    applied_at: s.appliedAt?.toISOString() ?? null,
    duration_ms: s.durationMs,
    missing_file: s.missingFile,
    changed: s.changed,
    has_down_file: s.downFile !== undefined,
  };
}

export function historyJson(e: HistoryEntry) {
  return { id: e.id, version: e.version, name: e.name, direction: e.direction, at: e.at.toISOString(), duration_ms: e.durationMs };
}

export function stepJson(s: StepReport) {
  return { version: s.version, name: s.name, direction: s.direction, duration_ms: s.durationMs };
}
