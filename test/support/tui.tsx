// The console under ink-testing-library against a real admin plane: an in-process app (auth and
// admin services over a fresh test database, test/support/admin.ts) reached through the console's
// own AdminClient with a fetch that calls the app directly. Frames are plain text; keys are the
// bytes a terminal sends. The terminal size is set explicitly (ink-testing-library has none).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { render } from "ink-testing-library";
import { AdminClient } from "../../tui/api/client.ts";
import { ConsoleStore } from "../../tui/lib/config-store.ts";
import { App } from "../../tui/shell/App.tsx";
import { adminApp, uniqueEmail, type AdminApp } from "./admin.ts";

export const URL = "http://localhost";

export const KEY = {
  enter: "\r",
  esc: "\u001b",
  tab: "\t",
  up: "\u001b[A",
  down: "\u001b[B",
  right: "\u001b[C",
  left: "\u001b[D",
  pageDown: "\u001b[6~",
  pageUp: "\u001b[5~",
  end: "\u001b[F",
  f5: "\u001b[15~",
  backspace: "\u007f",
  ctrl: (c: string) => String.fromCharCode(c.toLowerCase().charCodeAt(0) - 96),
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SETTLE_MS = 120;

export function inProcessFetch(t: AdminApp): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) =>
    t.app.fetch(new Request(input, init), { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) })) as typeof fetch;
}

export async function consoleHarness(t?: AdminApp) {
  const app = t ?? (await adminApp());
  const fetchFn = inProcessFetch(app);
  const makeClient = (url: string) => new AdminClient({ url, fetch: fetchFn });
  const configDir = mkdtempSync(join(tmpdir(), "plinth-tui-"));

  /** The console for a fresh admin of `level` (signed in already), on `screen`, at cols×rows. */
  async function open(opts: { level?: "system_admin" | "admin" | "moderator" | "viewer"; tables?: string[]; screen?: string; cols?: number; rows?: number; email?: string } = {}) {
    const email = opts.email ?? uniqueEmail(opts.level ?? "system_admin");
    if (!opts.email) await app.makeAdmin(email, opts.level ?? "system_admin", opts.tables);
    const token = await app.login(email);
    const client = makeClient(URL).withToken(token);
    const who = await client.whoami();
    return mount({ signedIn: { client, who, sessionToken: token }, screen: opts.screen, cols: opts.cols, rows: opts.rows, email });
  }

  /** The console at its sign-in screen. */
  function signInScreen(opts: { cols?: number; rows?: number } = {}) {
    return mount({ signedIn: null, cols: opts.cols, rows: opts.rows, email: "" });
  }

  function mount(opts: { signedIn: Parameters<typeof App>[0]["signedIn"]; screen?: string; cols?: number; rows?: number; email: string }) {
    let quit = false;
    const store = new ConsoleStore(configDir);
    const r = render(<App url={URL} store={store} signedIn={opts.signedIn} initialScreen={opts.screen} makeClient={makeClient} onQuit={() => (quit = true)} />);
    resize(r, opts.cols ?? 80, opts.rows ?? 24);
    const frame = () => r.lastFrame() ?? "";
    /** Types `keys` (each string one read), waiting `ms` after each. */
    const press = async (...keys: string[]) => {
      for (const k of keys) {
        r.stdin.write(k);
        await sleep(30);
      }
    };
    /** Waits until the frame contains `text` (or matches), failing with the last frame. */
    const waitFor = async (text: string | RegExp, timeoutMs = 5000): Promise<string> => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const f = frame();
        if (typeof text === "string" ? f.includes(text) : text.test(f)) {
          // Ink registers a new component's key handler in a passive effect, after the frame is
          // written: give it time before the next key (a person is never this fast).
          await sleep(SETTLE_MS);
          return f;
        }
        if (Date.now() > end) throw new Error(`timed out waiting for ${String(text)}; last frame:\n${f}`);
        await sleep(25);
      }
    };
    return { r, frame, press, waitFor, store, email: opts.email, quitted: () => quit, resize: (c: number, h: number) => resize(r, c, h), unmount: () => r.unmount() };
  }

  return { t: app, open, signInScreen, makeClient, configDir };
}

export function resize(r: ReturnType<typeof render>, columns: number, rows: number): void {
  Object.defineProperty(r.stdout, "columns", { value: columns, configurable: true });
  Object.defineProperty(r.stdout, "rows", { value: rows, configurable: true });
  r.stdout.emit("resize");
}

/** Every line of a frame fits `columns` (nothing wraps past the terminal's edge). */
export function fitsWidth(frame: string, columns: number): boolean {
  return frame.split("\n").every((l) => [...l].length <= columns);
}
