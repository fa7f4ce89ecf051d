// `plinth init` as a user runs it: a subprocess in an empty directory.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig, unsafeSettings } from "../src/config/index.ts";

const MAIN = resolve(import.meta.dir, "../src/main.ts");

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "plinth-init-"));
  chmodSync(dir, 0o755);
  return dir;
}

function run(args: string[], cwd: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd, env: clean, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("plinth init", () => {
  test("--production writes a 0600 file with a fresh strong secret that passes the production rules", () => {
    const dir = tempDir();
    const r = run(["init", "--production"], dir);
    expect(r.code).toBe(0);
    expect(r.out).toContain("create-system-admin");
    const file = join(dir, "plinth.yaml");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, "plinth_data"))).toBe(true);
    const loaded = loadConfig({ file, cwd: dir, env: {} });
    expect(loaded.config.env).toBe("production");
    expect(loaded.config.jwt.secret!.length).toBeGreaterThanOrEqual(64);
    expect(loaded.config.auth.autoconfirm).toBe(false);
    expect(unsafeSettings(loaded)).toEqual([]);
  });

  test("two inits never share a secret; development mode autoconfirms", () => {
    const a = tempDir();
    const b = tempDir();
    expect(run(["init"], a).code).toBe(0);
    expect(run(["init"], b).code).toBe(0);
    const sa = loadConfig({ file: join(a, "plinth.yaml"), cwd: a, env: {} }).config;
    const sb = loadConfig({ file: join(b, "plinth.yaml"), cwd: b, env: {} }).config;
    expect(sa.env).toBe("development");
    expect(sa.auth.autoconfirm).toBe(true);
    expect(sa.jwt.secret).not.toBe(sb.jwt.secret);
  });

  test("refuses to overwrite without --force (exit 1, file untouched); --force replaces it", () => {
    const dir = tempDir();
    const file = join(dir, "plinth.yaml");
    writeFileSync(file, "env: development\n");
    const r = run(["init"], dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("--force");
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(readFileSync(file, "utf8")).toBe("env: development\n");
    expect(run(["init", "--force", "--json"], dir).code).toBe(0);
    expect(readFileSync(file, "utf8")).toContain("jwt:");
  });

  test("--config names the file; a wrong flag is a usage error (exit 2)", () => {
    const dir = tempDir();
    const r = run(["--config", "conf/prod.yaml", "init", "--production", "--json"], dir);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ config: join(dir, "conf/prod.yaml"), env: "production" });
    expect(run(["init", "--nope"], dir).code).toBe(2);
  });
});
