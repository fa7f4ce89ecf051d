// Starts the console: renders the App into the terminal's alternate screen (so quitting leaves the
// shell exactly as it was), in interactive mode even where Ink would guess otherwise when the
// caller asks, and resolves when the console quits (q, :quit or Ctrl+C). On the way out the admin
// session it signed in with is ended on the server (best effort, one second at most).
import { render } from "ink";
import { AdminClient } from "./api/client.ts";
import type { SignedIn } from "./screens/SignIn.tsx";
import { ConsoleStore } from "./lib/config-store.ts";
import { App } from "./shell/App.tsx";

export interface ConsoleOptions {
  url: string;
  /** The service_role key (--key): no sign-in screen. */
  serviceKey?: string | null;
  /** Input stream (a /dev/tty stream when stdin carried the key). */
  stdin?: NodeJS.ReadStream;
  store?: ConsoleStore;
  initialScreen?: string;
  /** Called once the first frame is on the screen (start-up measurement). */
  onFirstFrame?(): void;
}

export async function runConsole(opts: ConsoleOptions): Promise<number> {
  const store = opts.store ?? new ConsoleStore();
  let signedIn: SignedIn | null = null;
  if (opts.serviceKey) {
    const client = new AdminClient({ url: opts.url, token: opts.serviceKey, isServiceKey: true });
    const who = await client.whoami();
    store.rememberServer(client.url);
    signedIn = { client, who, sessionToken: null };
  }
  let session: SignedIn | null = signedIn;
  let quit: () => void = () => {};
  const done = new Promise<void>((resolve) => (quit = resolve));
  const interactive = process.env.CI === "false" || process.env.PLINTH_TUI_INTERACTIVE === "1" ? true : undefined;
  let first = true;
  const instance = render(
    <App url={opts.url} store={store} signedIn={signedIn} initialScreen={opts.initialScreen} onSignedIn={(s) => (session = s)} onQuit={() => quit()} />,
    {
      stdin: opts.stdin,
      exitOnCtrlC: true,
      alternateScreen: true,
      patchConsole: true,
      ...(interactive !== undefined ? { interactive } : {}),
      onRender: () => {
        if (first) {
          first = false;
          opts.onFirstFrame?.();
        }
      },
    },
  );
  await Promise.race([done, instance.waitUntilExit()]);
  instance.unmount();
  await instance.waitUntilExit().catch(() => {});
  const s = session as SignedIn | null;
  if (s?.sessionToken) {
    await Promise.race([s.client.logout().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
  }
  return 0;
}
