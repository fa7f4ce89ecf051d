// What the console remembers between runs, in the user's config dir ($XDG_CONFIG_HOME/plinth, else
// ~/.config/plinth): the server URLs it signed in to (never a token, password or key) and the SQL
// history. Files are written 0600 in a 0700 dir (the history holds the SQL an admin typed);
// statements that look like they carry a secret are not kept. A broken file is treated as empty.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const MAX_SERVERS = 10;
export const MAX_HISTORY = 500;
const SECRET_LOOKING = /\b(password|passwd|secret|token|api_?key)\b/i;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), ".config");
  return join(base, "plinth");
}

function readJson<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return fallback;
  }
}

function writeJson(dir: string, file: string, value: unknown): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export class ConsoleStore {
  constructor(readonly dir: string = configDir()) {}

  private get serversFile() {
    return join(this.dir, "console.json");
  }
  private get historyFile() {
    return join(this.dir, "sql_history.json");
  }

  /** Remembered server URLs, most recent first. */
  servers(): string[] {
    const v = readJson<{ servers?: unknown }>(this.serversFile, {});
    return Array.isArray(v.servers) ? v.servers.filter((s): s is string => typeof s === "string").slice(0, MAX_SERVERS) : [];
  }

  rememberServer(url: string): void {
    try {
      const list = [url, ...this.servers().filter((s) => s !== url)].slice(0, MAX_SERVERS);
      writeJson(this.dir, this.serversFile, { servers: list });
    } catch {
      // A read-only home is no reason to fail a sign-in.
    }
  }

  /** SQL history, oldest first. */
  history(): string[] {
    const v = readJson<unknown>(this.historyFile, []);
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string").slice(-MAX_HISTORY) : [];
  }

  /** Adds a statement (not a repeat of the last one, not one that looks like it carries a secret). */
  remember(sql: string): string[] {
    const text = sql.trim();
    const list = this.history();
    if (!text || SECRET_LOOKING.test(text) || list.at(-1) === text) return list;
    const next = [...list, text].slice(-MAX_HISTORY);
    try {
      writeJson(this.dir, this.historyFile, next);
    } catch {
      // Keep it for this session at least.
    }
    return next;
  }
}
