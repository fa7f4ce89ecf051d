#!/usr/bin/env bun
// The plinth command line: serve | migrate … | keys [--json] | config print | tui | admin … | --version
import { ConfigError, formatConfig, loadConfig, resolveJwtSecret, unsafeSettings, type LoadedConfig } from "./config/index.ts";
import { createLogger } from "./log.ts";
import { VERSION } from "./version.ts";

const USAGE = `plinth ${VERSION}: a Supabase-compatible backend in one executable

Usage: plinth [--config FILE] <command>

Commands:
  serve                      start the server (auth, rest, realtime, storage, admin)
  plugins list [--json]      the plugins serve would load (plugins.dir, <dataDir>/plugins or ./plugins)
  migrate new NAME           create up/down SQL files in the migrations dir
  migrate up [--to V]        apply pending migrations (all, or up to version V)
  migrate down [N]           revert the last N applied migrations (default 1)
  migrate status [--json]    list migrations and whether each is applied
  migrate history            list applied migrations with their times
  migrate plan [--json]      what each pending migration would do (destructive, locking, security)
  migrate approve V --by ADMIN [--note TEXT]   approve a pending migration (needed in production)
  migrate new NAME --template T [--table TABLE]   a migration from a template (migrate templates)
  gen types typescript [--schema S,…] [--out FILE]   the Database type for supabase-js
  keys [--json]              print the anon and service_role API keys
  keys signing list|create|rotate|revoke [--json]   JWT signing keys (JWKS, rotation)
  keys api list|create|rotate|revoke [--json]       publishable, secret and scoped API keys
  init [--production] [--force]   write plinth.yaml with fresh secrets, create the data dir
  doctor [--json]            check a deployment and say what to fix
  admin create-system-admin --email E [--username U] [--password-stdin]
  admin promote USER --level L [--tables s.t1,s.t2]
  admin demote USER [--level L | --remove]
  admin list [--json]        named admin accounts and their levels
  emergency-access --reason TEXT [--ttl 15m] [--json]   a one-time system_admin sign-in code
  backup [--out FILE]        an online backup: database, stored files, configuration
  restore FILE [--force]     restore a backup into an empty (or --force'd) data dir
  audit verify [--archives] [--json]   check the audit log's hash chain
  audit export [--format csv|ndjson] [--since T] [--until T] [--out FILE]
  audit prune [--days N] [--json]      archive and remove rows past audit.retentionDays
  audit report --since T --until T [--json]   compliance summary
  config print               print the effective configuration, secrets masked
  tui [--url URL] [--key]    the terminal admin console (--key: service_role key from PLINTH_SERVICE_KEY or stdin)
  --version                  print the version

Configuration comes from plinth.yaml (or --config FILE) and PLINTH_* environment variables.
`;

type CommandModule = { run(args: string[], env: import("./cli/command.ts").CommandEnv): Promise<number> };
/** Loaded on demand, so `plinth --version` does not evaluate them. */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  init: () => import("./cli/init.ts"),
  doctor: () => import("./cli/doctor.ts"),
  backup: () => import("./cli/backup.ts"),
  restore: () => import("./cli/restore.ts"),
  "emergency-access": () => import("./cli/emergency-access.ts"),
  admin: () => import("./cli/admin.ts"),
  audit: () => import("./cli/audit.ts"),
  gen: () => import("./cli/gen.ts"),
  tui: () => import("./cli/tui.ts"),
};

/** Splits out the global --config option; everything else is the command and its arguments. */
function parseGlobal(argv: string[]): { file?: string; rest: string[] } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--config" || a === "-c") {
      file = argv[++i];
      if (!file) fail("--config needs a file name");
    } else if (a.startsWith("--config=")) file = a.slice("--config=".length);
    else rest.push(a);
  }
  return { file, rest };
}

function fail(message: string, code = 1): never {
  process.stderr.write(`plinth: ${message}\n`);
  process.exit(code);
}

function load(file?: string): LoadedConfig {
  try {
    return loadConfig({ file });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

async function main(argv: string[]): Promise<void> {
  const { file, rest } = parseGlobal(argv);
  const [command, ...args] = rest;
  switch (command) {
    case "--version":
    case "-v":
    case "version":
      process.stdout.write(`plinth ${VERSION}\n`);
      return;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return;
    case "serve":
      return runServe(load(file));
    case "keys": {
      // The legacy pair (no database), signing keys, API keys: src/cli/keys.ts.
      const { processEnv } = await import("./cli/command.ts");
      process.exitCode = await (await import("./cli/keys.ts")).run(args, processEnv(file));
      return;
    }
    case "config":
      if (args[0] !== "print") fail("usage: plinth config print", 2);
      process.stdout.write(formatConfig(load(file).config));
      return;
    case "plugins": {
      const { runPlugins } = await import("./cli/plugins.ts");
      process.exitCode = await runPlugins(args, load(file).config);
      return;
    }
    case "migrate": {
      const { runMigrate } = await import("./cli/migrate.ts");
      process.exitCode = await runMigrate(args, load(file).config);
      return;
    }
    case "init":
    case "doctor":
    case "backup":
    case "restore":
    case "emergency-access":
    case "tui":
    case "gen":
    case "admin":
    case "audit": {
      // Each command lives in src/cli/<command>.ts and exports run(args, env) → exit code.
      const { processEnv } = await import("./cli/command.ts");
      const mod = await COMMANDS[command]!();
      process.exitCode = await mod.run(args, processEnv(file));
      return;
    }
    default:
      fail(`unknown command '${command}'\n\n${USAGE}`, 2);
  }
}

function secretOrExit(config: LoadedConfig["config"]): string {
  try {
    return resolveJwtSecret(config, config.dataDir);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

async function runServe(loaded: LoadedConfig): Promise<void> {
  const { config } = loaded;
  const problems = unsafeSettings(loaded);
  if (problems.length) {
    fail(`refusing to start in production with unsafe settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  const log = createLogger(config.log.level);
  const jwtSecret = secretOrExit(config);
  const { serve } = await import("./server.ts");
  let server: Awaited<ReturnType<typeof serve>>;
  try {
    server = await serve({ config, jwtSecret, log, configFile: loaded.file });
  } catch (err) {
    fail(`could not start: ${err instanceof Error ? err.message : String(err)}`);
  }
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) {
      log.warn("second signal, exiting now", { signal: sig });
      process.exit(130);
    }
    log.info("signal received", { signal: sig });
    server.stop().then(
      () => process.exit(0),
      (err) => {
        log.error("shutdown failed", { error: err });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
}

await main(process.argv.slice(2));
