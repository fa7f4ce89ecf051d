// `plinth keys [--json]` prints the legacy anon/service_role pair without opening the database (it
// is derived from the JWT secret, and scripts call it on machines where the database is not up). So
// that it stops printing them once they are disabled, disabling them (CLI or admin API) also leaves
// this marker in the data dir of the machine that did it. The database flag (plinth.key_state) is
// what every node enforces; the marker only informs `plinth keys` on that machine.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LEGACY_DISABLED_MARKER = "legacy-api-keys.disabled";

export const legacyMarkerPath = (dataDir: string): string => join(dataDir, LEGACY_DISABLED_MARKER);

export function writeLegacyMarker(dataDir: string, enabled: boolean): void {
  if (enabled) {
    rmSync(legacyMarkerPath(dataDir), { force: true });
    return;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(legacyMarkerPath(dataDir), "The legacy anon/service_role keys are disabled (plinth keys legacy enable turns them back on).\n");
}
