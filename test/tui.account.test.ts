// The console's account screen and the TOTP enrolment at sign-in, against a real admin plane: the
// otpauth:// QR code drawn in the frame is decoded back (test/support/qr-decode.ts, independent of
// the encoder) and must equal the URI of the factor the server made; codes come from an independent
// TOTP generator (test/support/auth-totp.ts). Enrol (a wrong code refused with the server's code, the
// right one shows the recovery codes once), sign in with TOTP and with a recovery code, unenrol with a
// fresh code; where the server requires MFA, the password leads into the enrolment and then the
// console; narrow terminals and NO_COLOR.
import { afterAll, describe, expect, test } from "bun:test";
import { render } from "ink-testing-library";
import { createElement } from "react";
import { ConsoleStore } from "../tui/lib/config-store.ts";
import { App } from "../tui/shell/App.tsx";
import { adminApp, PASSWORD, uniqueEmail } from "./support/admin.ts";
import { totp } from "./support/auth-totp.ts";
import { decodeQr } from "./support/qr-decode.ts";
import { KEY, URL, consoleHarness, fitsWidth, sleep } from "./support/tui.tsx";

const h = await consoleHarness(await adminApp({ auth: { lockout: { maxAttempts: 50 } } }));
const strict = await consoleHarness(await adminApp({ admin: { requireMfa: true }, auth: { lockout: { maxAttempts: 50 } } }, h.t.database));
const mounted: { unmount(): void }[] = [];
afterAll(() => mounted.forEach((c) => c.unmount()));

/** A six-digit code that is none of the codes the server's window accepts now. */
function wrongCode(secret: string): string {
  const near = new Set([-2, -1, 0, 1, 2].map((o) => totp(secret, o)));
  for (let i = 0; ; i++) {
    const c = String(123456 + i * 7919).slice(-6);
    if (!near.has(c)) return c;
  }
}

/**
 * The QR code drawn in a frame, read back into modules: each text line is two module rows (█ both
 * light, ▀ top light, ▄ bottom light, space both dark: light modules are ink), two quiet modules round.
 */
function qrFromFrame(frame: string): { text: string; version: number; lines: number; width: number } {
  const lines = frame.split("\n");
  const top = lines.findIndex((l) => /^\s*█{20,}/.test(l));
  if (top < 0) throw new Error(`no QR code in the frame:\n${frame}`);
  const indent = lines[top]!.search(/█/);
  const width = /^█+/.exec(lines[top]!.slice(indent))![0].length;
  const textLines = Math.ceil(width / 2);
  const rows: boolean[][] = [];
  for (let i = 0; i < textLines; i++) {
    const l = [...lines[top + i]!.slice(indent)].slice(0, width);
    const upper: boolean[] = [];
    const lower: boolean[] = [];
    for (let c = 0; c < width; c++) {
      const ch = l[c] ?? " ";
      upper.push(!(ch === "█" || ch === "▀"));
      lower.push(!(ch === "█" || ch === "▄"));
    }
    rows.push(upper, lower);
  }
  const modules = rows.slice(2, width - 2).map((r) => r.slice(2, width - 2));
  const d = decodeQr(modules);
  return { text: d.text, version: d.version, lines: textLines, width };
}

/** The secret as the console shows it (groups of four under the prompt), joined. */
function secretFromFrame(frame: string): string {
  const groups = frame.split("\n").flatMap((l) => [...l.matchAll(/(?<![A-Z2-7])((?:[A-Z2-7]{4} ){1,3}[A-Z2-7]{4})(?![A-Z2-7])/g)].map((m) => m[1]!));
  return groups.join("").replace(/ /g, "");
}

const recoveryCodes = (frame: string) => [...frame.matchAll(/\b[a-z2-9]{4}-[a-z2-9]{4}\b/g)].map((m) => m[0]);
const uri = (email: string, secret: string) => `otpauth://totp/Plinth:${encodeURIComponent(email)}?secret=${secret}&issuer=Plinth`;

async function signInWith(harness: typeof h, email: string, cols = 80, rows = 24) {
  const c = harness.signInScreen({ cols, rows });
  mounted.push(c);
  await c.waitFor("sign in");
  await c.press(email, KEY.enter);
  await c.waitFor("Password");
  await c.press(PASSWORD, KEY.enter);
  return c;
}

describe("account screen", () => {
  // Shared by the tests of this block, in order: enrol, sign in with the factor, unenrol.
  const email = `ac-${Date.now().toString(36)}@example.com`;
  let secret = "";
  let codes: string[] = [];
  let signInCode = "";

  test("e enrols: the QR code is the factor's otpauth URI, a wrong code shows the server's code, the right one the recovery codes once", async () => {
    const me = await h.t.makeAdmin(email, "viewer");
    const c = await h.open({ email, screen: "account", cols: 80, rows: 24 });
    mounted.push(c);
    let f = await c.waitFor("TOTP: not enrolled");
    expect(f).toContain(email);
    expect(f).toContain("e enrol TOTP");
    await c.press("e");
    f = await c.waitFor("Code from the app");
    expect(fitsWidth(f, 80)).toBe(true);
    expect(f.split("\n").length).toBeLessThanOrEqual(24);
    secret = secretFromFrame(f);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const qr = qrFromFrame(f);
    expect(qr.text).toBe(uri(email, secret));
    expect(qr.lines).toBeLessThanOrEqual(21);
    // The server holds this factor, unverified; the drawn secret is the one it checks codes against.
    const [factor] = await h.t.sql<{ status: string }[]>`select status::text from auth.mfa_factors where user_id = ${me.id}`;
    expect(factor!.status).toBe("unverified");
    // While the code field is up, the shell's own keys are off: q is typed, not a quit.
    await c.press("q", KEY.backspace);
    expect(c.quitted()).toBe(false);

    await c.press(wrongCode(secret), KEY.enter);
    f = await c.waitFor("mfa_verification_failed");
    expect(f.replace(/\s+/g, " ")).toContain("(mfa_verification_failed 400)");
    expect((await h.t.call("GET", "/account/mfa", undefined, { token: await h.t.login(email) })).body.enrolled).toBe(false);

    await c.press(totp(secret, -1), KEY.enter);
    f = await c.waitFor("Your recovery codes");
    codes = recoveryCodes(f);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(f).toContain("shown only this once");
    expect(fitsWidth(f, 80)).toBe(true);
    // Stored hashed: no shown code is in the database as it is.
    const [plain] = await h.t.sql<
      { n: number }[]
    >`select count(*)::int as n from auth.mfa_recovery_codes where user_id = ${me.id} and code_hash = any(${codes})`;
    expect(plain!.n).toBe(0);
    await c.press(KEY.enter);
    f = await c.waitFor("TOTP: enrolled");
    expect(f).toContain("10 recovery code(s) left");
    expect(f).toContain("TOTP enrolled: sign-ins now ask for a code");
    for (const code of codes) expect(f).not.toContain(code);
    expect(f).toContain("d unenrol");
  });

  test("sign-in then asks for the code: TOTP works, and so does a recovery code shown at enrolment (once)", async () => {
    expect(codes).toHaveLength(10);
    let c = await signInWith(h, email);
    await c.waitFor("6-digit TOTP code or a recovery code");
    signInCode = totp(secret, 0);
    await c.press(signInCode, KEY.enter);
    let f = await c.waitFor(`${email} (viewer)`);
    c.unmount();

    c = await signInWith(h, email);
    await c.waitFor("6-digit TOTP code or a recovery code");
    await c.press(codes[0]!, KEY.enter);
    await c.waitFor(`${email} (viewer)`);
    await c.press(":account\r");
    f = await c.waitFor("TOTP: enrolled");
    expect(f).toContain("9 recovery code(s) left");
    c.unmount();

    // Spent: the same recovery code signs in no more.
    c = await signInWith(h, email);
    await c.waitFor("6-digit TOTP code or a recovery code");
    await c.press(codes[0]!, KEY.enter);
    f = await c.waitFor("mfa_verification_failed");
    expect(f).toContain("Code");
  });

  test("d unenrols with a fresh code: a spent one is refused with the server's code; then sign-in needs only the password", async () => {
    expect(signInCode).not.toBe("");
    // Signed in with another recovery code (the TOTP codes of this step are spent).
    const c = await signInWith(h, email);
    await c.waitFor("6-digit TOTP code or a recovery code");
    await c.press(codes[1]!, KEY.enter);
    await c.waitFor(`${email} (viewer)`);
    await c.press(":account\r");
    await c.waitFor("TOTP: enrolled");
    await c.press("d");
    await c.waitFor("Unenrol: a fresh code");
    await c.press(KEY.esc);
    await c.waitFor("d unenrol");
    expect(c.frame()).not.toContain("Unenrol: a fresh code");
    await c.press("d");
    await c.waitFor("Unenrol: a fresh code");
    await c.press(signInCode, KEY.enter);
    await c.waitFor("mfa_verification_failed");
    await c.press(totp(secret, 1), KEY.enter);
    const f = await c.waitFor("TOTP: not enrolled");
    expect(f).toContain("TOTP removed from this account");
    expect(f).toContain("e enrol TOTP");
    const [left] = await h.t.sql<{ n: number }[]>`
      select count(*)::int as n from auth.mfa_factors f join auth.users u on u.id = f.user_id where u.email = ${email}`;
    expect(left!.n).toBe(0);
    const s = await signInWith(h, email);
    await s.waitFor(`${email} (viewer)`);
  });

  test("Esc leaves an enrolment before verifying; a service key has no account to enrol", async () => {
    const c = await h.open({ screen: "account" });
    mounted.push(c);
    await c.waitFor("TOTP: not enrolled");
    await c.press("e");
    await c.waitFor("Code from the app");
    await c.press(KEY.esc);
    await c.waitFor("TOTP: not enrolled");
    expect(c.frame()).not.toContain("Code from the app");

    const client = h.makeClient(URL).withToken(h.t.keys.service_role, true);
    const who = await client.whoami();
    const k = render(
      createElement(App, {
        url: URL,
        store: new ConsoleStore(h.configDir),
        signedIn: { client, who, sessionToken: null },
        initialScreen: "account",
        onQuit: () => {},
      }),
    );
    mounted.push(k);
    for (let i = 0; i < 100 && !(k.lastFrame() ?? "").includes("has no account"); i++) await sleep(25);
    expect(k.lastFrame()).toContain("has no account, so no second factor");
  });
});

describe("enrolment at sign-in where the server requires MFA", () => {
  test("the password leads into the enrolment (QR = the factor's URI); a wrong code is refused; the right one shows the recovery codes, then the console opens", async () => {
    const email = `fr-${Date.now().toString(36)}@example.com`;
    await strict.t.makeAdmin(email, "admin");
    const c = await signInWith(strict, email);
    let f = await c.waitFor("Code from the app");
    expect(f).toContain("this server requires TOTP for admins");
    expect(fitsWidth(f, 80)).toBe(true);
    expect(f.split("\n").length).toBeLessThanOrEqual(24);
    const secret = secretFromFrame(f);
    expect(qrFromFrame(f).text).toBe(uri(email, secret));

    await c.press(wrongCode(secret), KEY.enter);
    f = await c.waitFor("mfa_verification_failed");
    expect(f.replace(/\s+/g, " ")).toContain("(mfa_verification_failed 400)");
    expect(f).toContain("Code from the app");
    await c.press(totp(secret, -1), KEY.enter);
    f = await c.waitFor("Your recovery codes");
    const codes = recoveryCodes(f);
    expect(codes).toHaveLength(10);
    // Not in the console yet: the codes stay until Enter.
    await sleep(200);
    expect(c.frame()).toContain("Your recovery codes");
    await c.press(KEY.enter);
    f = await c.waitFor(`${email} (admin)`);
    for (const code of codes) expect(f).not.toContain(code);
    // A real session: the console's own calls work, and the account screen says enrolled.
    await c.press(":account\r");
    f = await c.waitFor("TOTP: enrolled");
    expect(f).toContain("10 recovery code(s) left");
    const [audit] = await strict.t.sql<{ outcome: string; admin_email: string }[]>`
      select outcome, admin_email from plinth.audit_log where action = 'auth.mfa_enroll_verify' and admin_email = ${email} order by id desc limit 1`;
    expect(audit).toEqual({ outcome: "ok", admin_email: email });

    // The next sign-in is the ordinary TOTP challenge.
    const again = await signInWith(strict, email);
    await again.waitFor("6-digit TOTP code or a recovery code");
    await again.press(totp(secret, 0), KEY.enter);
    await again.waitFor(`${email} (admin)`);
  });

  test("Esc before verifying returns to the sign-in with the reason; signing in again starts a new enrolment", async () => {
    const email = `fe-${Date.now().toString(36)}@example.com`;
    await strict.t.makeAdmin(email, "viewer");
    const c = await signInWith(strict, email);
    await c.waitFor("Code from the app");
    await c.press(KEY.esc);
    let f = await c.waitFor("Enrolment cancelled");
    expect(f).toContain("sign in");
    await c.press(email, KEY.enter);
    await c.waitFor("Password");
    await c.press(PASSWORD, KEY.enter);
    f = await c.waitFor("Code from the app");
    const secret = secretFromFrame(f);
    expect(qrFromFrame(f).text).toBe(uri(email, secret));
    await c.press(totp(secret, -1), KEY.enter);
    await c.waitFor("Your recovery codes");
    await c.press(KEY.enter);
    await c.waitFor(`${email} (viewer)`);
  });

  test("narrow terminals: 60×20 asks for a larger terminal and still offers the secret; widening draws the code; NO_COLOR has no colour", async () => {
    const before = process.env.NO_COLOR;
    process.env.NO_COLOR = "1";
    try {
      const email = uniqueEmail("narrow");
      await strict.t.makeAdmin(email, "viewer");
      const c = await signInWith(strict, email, 60, 20);
      let f = await c.waitFor("Code from the app");
      expect(f).toMatch(/Enlarge the terminal to at least \d+×\d+/);
      expect(f).not.toMatch(/█{20,}/);
      expect(fitsWidth(f, 60)).toBe(true);
      const secret = secretFromFrame(f);
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for SGR colour codes.
      expect(f).not.toMatch(/\u001b\[(3\d|9\d|38;)/);
      c.resize(100, 30);
      f = await c.waitFor(/█{20,}/);
      expect(qrFromFrame(f).text).toBe(uri(email, secret));
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for SGR colour codes.
      expect(f).not.toMatch(/\u001b\[(3\d|9\d|38;)/);
      c.resize(40, 12);
      await sleep(150);
      expect(fitsWidth(c.frame(), 40)).toBe(true);
      await c.press(totp(secret, -1), KEY.enter);
      await c.waitFor("Your recovery codes");
      expect(fitsWidth(c.frame(), 40)).toBe(true);
    } finally {
      if (before === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = before;
    }
  });
});
