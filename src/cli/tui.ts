// `plinth tui [--url URL] [--key]`: the terminal admin console (tui/). It is a client of the admin
// API only: the default URL is the local server from the configuration, --url points it anywhere.
// --key signs in with the service_role key from PLINTH_SERVICE_KEY or, failing that, stdin (then
// the console reads the keyboard from /dev/tty). Nothing secret is written to disk.
import { openSync } from "node:fs";
import { ReadStream } from "node:tty";
import { EXIT, runCommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = "usage: plinth tui [--url URL] [--key] [--screen NAME]";

export interface TuiArgs {
  url: string | null;
  key: boolean;
  screen: string | null;
}

export function parseTuiArgs(args: string[]): TuiArgs {
  const out: TuiArgs = { url: null, key: false, screen: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--url") out.url = args[++i] ?? null;
    else if (a.startsWith("--url=")) out.url = a.slice(6);
    else if (a === "--key") out.key = true;
    else if (a === "--screen") out.screen = args[++i] ?? null;
    else if (a.startsWith("--screen=")) out.screen = a.slice(9);
    else throw usageError(`unknown argument '${a}'\n${USAGE}`);
  }
  if (out.url === "") throw usageError(`--url needs a URL\n${USAGE}`);
  return out;
}

/** The local server from the configuration (a wildcard listen address is reached on loopback). */
export function localUrl(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    if (args.includes("--help") || args.includes("-h")) {
      env.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    const opts = parseTuiArgs(args);
    let url = opts.url;
    if (!url) {
      const { config } = env.load();
      url = localUrl(config.host, config.port);
    }
    let serviceKey: string | null = null;
    let stdin: NodeJS.ReadStream | undefined;
    if (opts.key) {
      serviceKey = process.env.PLINTH_SERVICE_KEY?.trim() || null;
      if (!serviceKey && !process.stdin.isTTY) {
        serviceKey = (await env.readStdin()).trim() || null;
        // The key came through stdin: the keyboard is the controlling terminal.
        try {
          stdin = new ReadStream(openSync("/dev/tty", "r")) as NodeJS.ReadStream;
        } catch {
          throw usageError("the key came on stdin but there is no terminal to read keys from");
        }
      }
      if (!serviceKey) throw usageError("--key reads the service_role key from PLINTH_SERVICE_KEY or stdin");
    }
    if (!process.stdout.isTTY && process.env.CI !== "false" && process.env.PLINTH_TUI_INTERACTIVE !== "1") {
      env.stderr("plinth: the console needs a terminal (stdout is not one)\n");
      return EXIT.usage;
    }
    const { runConsole } = await import("../../tui/main.tsx");
    const { ApiError } = await import("../../tui/api/client.ts");
    try {
      return await runConsole({ url, serviceKey, stdin, initialScreen: opts.screen ?? undefined });
    } catch (err) {
      if (err instanceof ApiError) {
        env.stderr(`plinth: ${err.summary}\n`);
        return EXIT.failed;
      }
      throw err;
    } finally {
      stdin?.destroy();
    }
  });
}
