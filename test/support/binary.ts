// The compiled single executable, built once per `bun test` run and shared by every test file that
// drives it. `bun test` runs all files in one process, so a module-level promise is the cache; a
// build takes 10–20 s on two cores and four files used to build their own copy each.
//
// The binary sits alone in a temporary directory (no node_modules anywhere above it), so a test that
// runs it from there, or from its own directory, proves it needs nothing of this checkout.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

let built: Promise<string> | undefined;

/** The path of dist/plinth built from this checkout (into a temporary directory). */
export function compiledBinary(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "plinth-compiled-"));
  chmodSync(dir, 0o755);
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "plinth");
  const proc = Bun.spawn([process.execPath, "run", "build"], {
    cwd: ROOT,
    env: { ...process.env, PLINTH_BUILD_OUT: bin },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
  if (code !== 0) {
    built = undefined; // let a later file try again rather than inherit this failure
    throw new Error(`build failed (exit ${code}): ${err}`);
  }
  chmodSync(bin, 0o755);
  return bin;
}
