// `plinth init [--production] [--force]`: writes plinth.yaml (mode 0600) with freshly generated
// secrets and the settings the chosen mode needs, creates the data dir, and prints what to do next.
// The file it writes is loaded back through the same validation `serve` uses, and in production it
// must pass the production rules as written: `plinth serve` right after `init` starts.
import { existsSync, mkdirSync, writeFileSync, renameSync, chmodSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { DEFAULT_CONFIG_FILE, loadConfig, unsafeSettings } from "../config/index.ts";
import { CommandError, EXIT, parseFlags, runCommand, type CommandEnv } from "./command.ts";

const USAGE = "usage: plinth init [--production] [--force] [--data-dir DIR]";

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    const { flags, positional } = parseFlags(args, { values: ["data-dir"], booleans: ["production", "force", "json", "help"] });
    if (flags.help) {
      env.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (positional.length > 0) throw new CommandError(`unexpected argument '${positional[0]}'\n${USAGE}`, EXIT.usage);
    const production = flags.production === true;
    const file = resolve(env.cwd, env.configFile ?? DEFAULT_CONFIG_FILE);
    if (existsSync(file) && flags.force !== true) {
      throw new CommandError(
        `${file} already exists; pass --force to replace it (its secrets would change: every key and session issued with them stops working)`,
      );
    }
    const dataDir = typeof flags["data-dir"] === "string" ? flags["data-dir"] : "./plinth_data";
    const text = configText({ production, dataDir, secret: randomSecret(), masterSecret: randomSecret() });

    // Written beside the target and renamed over it: a crash never leaves half a file, and the
    // secret is never readable by others, not even for a moment (0600 from creation).
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
    try {
      // Refuse a file that would not start: the same validation `serve` runs.
      const loaded = loadConfig({ file: tmp, cwd: dirname(file), env: {} });
      const unsafe = unsafeSettings(loaded);
      if (unsafe.length > 0) throw new CommandError(`internal: the generated file is unsafe for production: ${unsafe.join(" ")}`);
      renameSync(tmp, file);
      chmodSync(file, 0o600);
    } catch (err) {
      try {
        (await import("node:fs")).rmSync(tmp, { force: true });
      } catch {
        /* already gone */
      }
      throw err;
    }
    const absData = isAbsolute(dataDir) ? dataDir : join(dirname(file), dataDir);
    mkdirSync(absData, { recursive: true, mode: 0o700 });

    if (flags.json === true) {
      env.stdout(`${JSON.stringify({ config: file, data_dir: absData, env: production ? "production" : "development" })}\n`);
      return EXIT.ok;
    }
    env.stdout(nextSteps(file, absData, production));
    return EXIT.ok;
  });
}

/** 48 random bytes, base64url: 64 characters, far above the 32 the production rules ask for. */
function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
}

function configText(o: { production: boolean; dataDir: string; secret: string; masterSecret: string }): string {
  const stamp = new Date().toISOString();
  const mode = o.production ? "production" : "development";
  const lines = [
    `# Plinth configuration, written by \`plinth init${o.production ? " --production" : ""}\` on ${stamp}.`,
    "# Every setting can also be given as a PLINTH_* environment variable, which wins over this file.",
    "# This file holds secrets: keep it private (mode 0600) and out of version control.",
    "",
    `env: ${mode}`,
    "host: 127.0.0.1",
    "port: 8787",
    `dataDir: ${JSON.stringify(o.dataDir)}`,
    "",
    "jwt:",
    "  # Signs sessions and the anon/service_role keys. Changing it signs everyone out.",
    `  secret: ${JSON.stringify(o.secret)}`,
    "",
    "auth:",
    "  # The app's URL: where e-mail links send users by default.",
    "  siteUrl: http://localhost:3000",
    "  # Access tokens are signed with an ES256 key made at the first start (plinth keys signing list).",
    "  signingAlg: ES256",
    "  # Encrypts the private signing keys stored in the database. Losing it loses those keys.",
    `  keysMasterSecret: ${JSON.stringify(o.masterSecret)}`,
  ];
  if (o.production) {
    lines.push(
      "  # New users confirm their e-mail or phone: configure smtp (and/or sms) below before opening sign-ups.",
      "  autoconfirm: false",
      "",
      "# Behind a load balancer or reverse proxy that sets X-Forwarded-For, set this to true.",
      "trustProxy: false",
      "",
      "cors:",
      "  # The origins of your app (e.g. https://app.example.com); browsers elsewhere are refused.",
      "  origins: []",
      "",
      "# smtp:",
      "#   host: smtp.example.com",
      "#   port: 587",
      "#   user: plinth",
      "#   pass: ...",
      "#   from: no-reply@example.com",
    );
  } else {
    lines.push("  # Sign-ups work without a mail server while developing.", "  autoconfirm: true");
  }
  lines.push("");
  return lines.join("\n");
}

function nextSteps(file: string, dataDir: string, production: boolean): string {
  const cfg = file === resolve(DEFAULT_CONFIG_FILE) ? "" : ` --config ${file}`;
  return [
    `Wrote ${file} (${production ? "production" : "development"}, mode 0600) and created ${dataDir}.`,
    "",
    "Next:",
    `  1. plinth${cfg} admin create-system-admin --email you@example.com   # your first admin (prints its password once)`,
    `  2. plinth${cfg} serve                                             # start the server`,
    `  3. plinth${cfg} doctor                                            # check the deployment`,
    `  4. plinth${cfg} keys                                              # the anon and service_role keys for supabase-js`,
    ...(production ? ["", "Before opening sign-ups: set smtp.* (and cors.origins) in the file, then run `plinth doctor`."] : []),
    "",
  ].join("\n");
}
