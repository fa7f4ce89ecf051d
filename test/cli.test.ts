// The CLI as a user runs it: `bun src/main.ts …` in a subprocess.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { verifyJwt } from "../src/lib/jwt.ts";

const MAIN = resolve(import.meta.dir, "../src/main.ts");

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "plinth-cli-"));
  chmodSync(dir, 0o755);
  return dir;
}

function run(args: string[], env: Record<string, string> = {}, cwd = tempDir()) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd, env: { ...clean, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString(), cwd };
}

describe("plinth CLI", () => {
  test("--version", () => {
    const r = run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^plinth \d+\.\d+\.\d+/);
  });

  test("keys --json prints both keys signed with the configured secret", async () => {
    const secret = "cli-test-secret-cli-test-secret-cli-test";
    const r = run(["keys", "--json"], { PLINTH_JWT_SECRET: secret });
    expect(r.code).toBe(0);
    const keys = JSON.parse(r.out) as { anon: string; service_role: string };
    const anon = await verifyJwt(keys.anon, secret);
    expect(anon.ok && anon.claims.role).toBe("anon");
    const service = await verifyJwt(keys.service_role, secret);
    expect(service.ok && service.claims.role).toBe("service_role");
  });

  test("development keys are stable: the generated secret is kept in the data dir", () => {
    const dir = tempDir();
    const a = run(["keys", "--json"], {}, dir);
    const b = run(["keys", "--json"], {}, dir);
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
  });

  test("config print masks secrets and shows env overrides", () => {
    const secret = "very-secret-value-that-must-not-appear-in-output";
    const r = run(["config", "print"], { PLINTH_JWT_SECRET: secret, PLINTH_PORT: "9999" });
    expect(r.code).toBe(0);
    expect(r.out).toContain("9999");
    expect(r.out).not.toContain(secret);
  });

  test("a broken config file exits 1 naming the file, the line and the field", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "plinth.yaml"), "host: 127.0.0.1\nport: not-a-port\n");
    const r = run(["config", "print"], {}, dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("plinth.yaml:2");
    expect(r.err).toContain("port");
    expect(r.err).not.toContain("    at "); // no stack trace
  });

  test("--config FILE that does not exist exits 1", () => {
    const r = run(["--config", "missing.yaml", "config", "print"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("missing.yaml");
  });

  test("production refuses unsafe settings, each with its reason", () => {
    const r = run(["serve"], { PLINTH_ENV: "production", PLINTH_JWT_SECRET: "short", PLINTH_CORS_CREDENTIALS: "true" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("refusing to start");
    expect(r.err).toMatch(/JWT secret/i);
    expect(r.err).toMatch(/autoconfirm/i);
    expect(r.err).toMatch(/CORS/i);
  });

  test("unknown command exits 2 with usage", () => {
    const r = run(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Usage");
  });
});

describe("sub-commands (admin, audit)", () => {
  test("help prints the usage; a missing or unknown sub-command is a usage error (exit 2) that shows it", () => {
    for (const name of ["admin", "audit"]) {
      const help = run([name, "help"]);
      expect(help.code).toBe(0);
      expect(help.out).toContain(`plinth ${name}`);
      const missing = run([name]);
      expect(missing.code).toBe(2);
      expect(missing.err).toContain("plinth: missing command");
      const unknown = run([name, "frobnicate"]);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain(`unknown command '${name} frobnicate'`);
      // An inherited property name is not a sub-command.
      expect(run([name, "toString"]).code).toBe(2);
    }
  });
});
