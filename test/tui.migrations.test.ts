// The console's migrations screen against a real admin plane in production mode: the pending
// migration's plan with its destructive finding, a refused apply while it is not approved, the
// approval, the apply after y (n keeps it pending), and the revert after y.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminApp } from "./support/admin.ts";
import { KEY, consoleHarness } from "./support/tui.tsx";

const dir = mkdtempSync(join(tmpdir(), "plinth-tui-migrations-"));
writeFileSync(join(dir, "20260101000000_notes.up.sql"), "create table public.tui_notes (id bigint primary key, body text);\n");
writeFileSync(join(dir, "20260101000000_notes.down.sql"), "drop table public.tui_notes;\n");
writeFileSync(join(dir, "20260102000000_drop_body.up.sql"), "alter table public.tui_notes drop column body;\n");
writeFileSync(join(dir, "20260102000000_drop_body.down.sql"), "alter table public.tui_notes add column body text;\n");
const t = await adminApp({ migrationsDir: dir, env: "production", admin: { requireMfa: false } } as never);
const h = await consoleHarness(t);
const opened: { unmount(): void }[] = [];
afterAll(() => {
  opened.forEach((c) => c.unmount());
  rmSync(dir, { recursive: true, force: true });
});

describe("migrations", () => {
  test("plan with findings, approval, apply after y, revert after y", async () => {
    // The first is approved and applied beforehand (a new table in an exposed schema is a finding too);
    // the second drops a column.
    expect((await t.call("POST", "/migrations/20260101000000/approve", {}, { token: t.keys.service_role })).status).toBe(200);
    const first = await t.call("POST", "/migrations/apply", { to: "20260101000000" }, { token: t.keys.service_role });
    expect(first.status).toBe(200);
    const c = await h.open({ screen: "migrations", cols: 100, rows: 30 });
    opened.push(c);
    await c.waitFor(/1 applied · 1 pending/);
    await c.press(KEY.down, KEY.enter);
    const plan = await c.waitFor("verdict");
    expect(plan).toContain("20260102000000 drop_body · pending");
    expect(plan).toContain("needs approval");
    expect(plan).toMatch(/destructive/);
    await c.press(KEY.esc);
    await c.waitFor(/1 applied · 1 pending/);
    await new Promise((r) => setTimeout(r, 200)); // Esc then a key in one read is Alt+key
    // Apply before approval: confirmed, and refused by the server (production).
    await c.press("A");
    await c.waitFor("Apply 1 pending migration(s)?");
    await c.press("y");
    await c.waitFor("nothing was applied");
    expect((await t.sql`select count(*)::int as n from information_schema.columns where table_name = 'tui_notes' and column_name = 'body'`)[0]!.n).toBe(1);
    // Approve, then apply; n first keeps it pending.
    await c.press("a");
    await c.waitFor("Approve 20260102000000: done");
    await c.press("A");
    await c.waitFor("Apply 1 pending migration(s)?");
    await c.press("n");
    await c.waitFor(/1 applied · 1 pending/);
    await c.press("A");
    await c.waitFor("Apply 1 pending migration(s)?");
    await c.press("y");
    await c.waitFor("Apply: done");
    await c.waitFor(/2 applied · 0 pending/);
    expect((await t.sql`select count(*)::int as n from information_schema.columns where table_name = 'tui_notes' and column_name = 'body'`)[0]!.n).toBe(0);
    // Revert the newest after y.
    await c.press("R");
    await c.waitFor("Revert 20260102000000 drop_body?");
    await c.press("y");
    await c.waitFor("Revert: done");
    await c.waitFor(/1 applied · 1 pending/);
    expect((await t.sql`select count(*)::int as n from information_schema.columns where table_name = 'tui_notes' and column_name = 'body'`)[0]!.n).toBe(1);
  });
});
