// What every `plinth <command>` module receives, and the conventions they share: scriptable (no
// prompt when the input comes from flags or stdin), `--json` for machines, exit 0 on success, 1 on
// failure, 2 on wrong usage, and a one-line reason on stderr.
import { ConfigError, loadConfig, type LoadedConfig } from "../config/index.ts";

export interface CommandEnv {
  /** The --config file given on the command line, if any. */
  configFile?: string;
  /** Loads and validates the configuration (throws ConfigError). */
  load(): LoadedConfig;
  stdout(s: string): void;
  stderr(s: string): void;
  /** Standard input, read whole (for --password-stdin and the like). */
  readStdin(): Promise<string>;
  /** The working directory commands resolve relative paths against. */
  cwd: string;
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A failure the command reports as one line on stderr with its exit code. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

export const usageError = (message: string) => new CommandError(message, EXIT.usage);

export function processEnv(configFile?: string): CommandEnv {
  return {
    configFile,
    load: () => loadConfig({ file: configFile }),
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    readStdin: async () => (process.stdin.isTTY ? "" : await new Response(Bun.stdin.stream()).text()),
    cwd: process.cwd(),
  };
}

/** Runs a command body: CommandError and ConfigError become "plinth: reason" and their exit code. */
export async function runCommand(env: CommandEnv, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CommandError) {
      env.stderr(`plinth: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      env.stderr(`plinth: ${err.message}\n`);
      return EXIT.failed;
    }
    throw err;
  }
}

/**
 * `plinth <name> <sub> …`: runs `sub` from `commands` with the remaining arguments; `help` prints
 * the usage, and a missing or unknown sub-command is a usage error (exit 2) that shows it.
 */
export function runSubcommand(
  name: string,
  usage: string,
  commands: Record<string, (args: string[], env: CommandEnv) => Promise<number> | number>,
  args: string[],
  env: CommandEnv,
): Promise<number> {
  return runCommand(env, async () => {
    const [sub, ...rest] = args;
    if (sub === "help" || sub === "--help") {
      env.stdout(`${usage}\n`);
      return EXIT.ok;
    }
    if (sub === undefined) throw usageError(`missing command\n${usage}`);
    const command = Object.hasOwn(commands, sub) ? commands[sub] : undefined;
    if (!command) throw usageError(`unknown command '${name} ${sub}'\n${usage}`);
    return command(rest, env);
  });
}

/**
 * Flags of the form --name VALUE, --name=VALUE and bare --flag, plus positional arguments. Unknown
 * flags are a usage error, so a typo never silently does something else.
 */
export function parseFlags(args: string[], spec: { values?: string[]; booleans?: string[] }): { flags: Record<string, string | true>; positional: string[] } {
  const values = new Set(spec.values ?? []);
  const booleans = new Set(spec.booleans ?? []);
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--") || a === "--") {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (values.has(name)) {
      const v = eq === -1 ? args[++i] : a.slice(eq + 1);
      if (v === undefined || v === "") throw usageError(`--${name} needs a value`);
      flags[name] = v;
    } else if (booleans.has(name) && eq === -1) {
      flags[name] = true;
    } else {
      throw usageError(`unknown option --${name}`);
    }
  }
  return { flags, positional };
}
