// The REST suites normally exercise the one-statement path (nothing in their fixture reads
// request.*). This reruns them with rest.requestSettings = always, where every request is a
// transaction that sets the role, the claims and request.method/path/headers — the other half of
// db.runAs's contract, and what PostgREST itself does. In a child `bun test` with its own embedded
// cluster, so the two runs share nothing.
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { TEST_DATA_DIR } from "./support/db.ts";

const SUITES = ["rest.api.test.ts", "rest.advanced.test.ts", "rest.compat.test.ts", "rest.supabase-js.test.ts"];

test("the REST suites pass with every request in its own transaction", async () => {
  const proc = Bun.spawn([process.execPath, "test", ...SUITES.map((f) => resolve(import.meta.dir, f))], {
    cwd: resolve(import.meta.dir, ".."),
    env: { ...process.env, PLINTH_TEST_REST_SETTINGS: "always", PLINTH_TEST_DATA_DIR: resolve(TEST_DATA_DIR, "transaction-mode") },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const text = out + err;
  const pass = Number(/(\d+) pass/.exec(text)?.[1] ?? 0);
  const fail = Number(/(\d+) fail/.exec(text)?.[1] ?? -1);
  if (code !== 0 || fail !== 0)
    console.error(
      text
        .split("\n")
        .filter((l) => /\(fail\)|error|Expected|Received/.test(l))
        .slice(0, 40)
        .join("\n"),
    );
  expect(fail).toBe(0);
  expect(pass).toBeGreaterThan(60);
  expect(code).toBe(0);
}, 180_000);
