// Attacks on the console through the data it shows: a row value, a user agent, a table name, an
// error message carrying terminal escape sequences (clear the screen, set the title, OSC 52 to write
// the operator's clipboard, a hyperlink) must reach the terminal inert, on every screen that shows
// them. And the console keeps no secret on disk.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { errorLine, ApiError } from "../tui/api/client.ts";
import { cell, fit } from "../tui/lib/format.ts";
import { PASSWORD } from "./support/admin.ts";
import { KEY, consoleHarness } from "./support/tui.tsx";

const h = await consoleHarness();
const open: { unmount(): void }[] = [];
afterAll(() => open.forEach((c) => c.unmount()));

const EVIL = "\u001b[2J\u001b]0;owned\u0007\u001b]52;c;ZWNobyBvd25lZA==\u0007\u001b]8;;http://evil\u0007x\r\nrm -rf ~";

/** A frame may hold SGR styling (ESC [ … m) and nothing else of the escape kind. */
function inert(frame: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escapes is the point.
  return !/\u001b(?!\[[0-9;]*m)|\u0007/.test(frame);
}

beforeAll(async () => {
  await h.t.sql`create table public.evil (id int primary key, body text, doc jsonb)`;
  await h.t.sql`insert into public.evil values (1, ${EVIL}, ${h.t.sql.json({ k: EVIL })})`;
});

describe("escape sequences from the server stay inert", () => {
  test("in the data grid, the cell view and the delete confirmation", async () => {
    const c = await h.open({ screen: "tables" });
    open.push(c);
    await c.press("/", "evil", KEY.enter);
    await c.waitFor("1 table(s)");
    await c.press(KEY.enter);
    await c.waitFor("public.evil");
    expect(c.frame()).toContain("\\x1b");
    expect(inert(c.frame())).toBe(true);
    await c.press(KEY.right, "v");
    await c.waitFor("body (text)");
    expect(inert(c.frame())).toBe(true);
    await c.press(KEY.esc);
    await c.waitFor("row 1 of 1");
    await c.press("d");
    await c.waitFor("Delete row 1");
    expect(inert(c.frame())).toBe(true);
    await c.press("n");
  });

  test("in the sessions list (a user agent chosen by whoever signed in)", async () => {
    const c = await h.open({ screen: "sessions" });
    open.push(c);
    await h.t.login(c.email);
    // fetch refuses such a header; a raw socket client need not: put it where it would land.
    await h.t.sql`update plinth.admin_sessions set user_agent = ${EVIL} where admin_id = (select id from auth.users where email = ${c.email})`;
    await c.press("r");
    await c.waitFor("\\x1b[2J");
    expect(inert(c.frame())).toBe(true);
  });

  test("in SQL results and the server's error messages", async () => {
    const c = await h.open({ screen: "sql" });
    open.push(c);
    await c.press("select body, doc from public.evil", KEY.f5);
    await c.waitFor("SELECT · 1 row(s)");
    expect(inert(c.frame())).toBe(true);
    expect(inert(errorLine(new ApiError(400, "x", `No column "${EVIL}"`)))).toBe(true);
    expect(inert(cell(EVIL)) && inert(cell({ k: EVIL }, "jsonb")) && inert(fit(EVIL, 30))).toBe(true);
  });
});

test("nothing secret in the console's config dir after signing in and running SQL", async () => {
  const c = await h.open({ screen: "sql" });
  open.push(c);
  await c.press("select 'not secret' as x", KEY.f5);
  await c.waitFor("SELECT");
  await c.press("\u000c", `alter role authenticator password '${PASSWORD}'`, KEY.f5);
  await c.waitFor(/Dangerous|statement_not_allowed|\(/);
  const text = readdirSync(h.configDir)
    .map((f) => readFileSync(join(h.configDir, f), "utf8"))
    .join("\n");
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain("plinth_as_");
  expect(text).not.toContain(h.t.keys.service_role);
});
