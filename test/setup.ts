// Preloaded once per `bun test` run (bunfig.toml). The shared PostgreSQL is started lazily by the
// first test file that asks for a database (test/support/db.ts), so pure tests stay fast; here we
// only make sure it is stopped cleanly when the run ends.
import { afterAll } from "bun:test";

afterAll(async () => {
  const { stopTestCluster } = await import("./support/cluster-stop.ts");
  await stopTestCluster();
});
