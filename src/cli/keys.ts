// `plinth keys …`: signing keys and API keys from the shell, with local access (src/admin/local.ts),
// each change audited as the CLI with the OS user and raised as a security event (src/keys/).
// Running servers see a change within a second (the change notifies `plinth_keys`).
//   keys [--json]                         the legacy anon/service_role JWT keys (while enabled)
//   keys signing list|create|rotate|revoke
//   keys api list|create|rotate|revoke
//   keys rotate NAME [--overlap 24h]      = keys api rotate
//   keys legacy status|enable|disable
import { existsSync } from "node:fs";
import { openLocalAdmin, type LocalAdmin } from "../admin/local.ts";
import { resolveJwtSecret } from "../config/index.ts";
import { keysMasterSecretProblem } from "../config/production.ts";
import type { Config } from "../config/schema.ts";
import { isPlinthError } from "../errors.ts";
import { apiKeys as legacyApiKeyPair } from "../lib/jwt.ts";
import {
  apiKeyJson,
  createApiKey,
  legacyApiKeysEnabled,
  listApiKeys,
  parseDuration,
  revokeApiKey,
  rotateApiKey,
  setLegacyApiKeys,
  type ApiKeyKind,
} from "../keys/api-keys.ts";
import { masterKey } from "../keys/at-rest.ts";
import { legacyMarkerPath, writeLegacyMarker } from "../keys/legacy-marker.ts";
import { assertAlg, createSigningKey, listSigningKeys, revokeSigningKey, rotateSigningKey, signingKeyJson } from "../keys/signing.ts";
import { CommandError, EXIT, parseFlags, runCommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = `usage: plinth keys [--json]                       the legacy anon/service_role keys
       plinth keys signing list [--json]
       plinth keys signing create [--alg ES256|RS256] [--json]       a standby key
       plinth keys signing rotate [--kid KID] [--alg ES256|RS256] [--json]
                                   make KID (default: the newest standby key, else a new one) current
       plinth keys signing revoke KID [--json]   refuse every token KID signed, on every node
       plinth keys api list [--all] [--json]
       plinth keys api create NAME --kind publishable|secret|scoped [--scopes a,b] [--role R] [--expires 30d] [--json]
       plinth keys api rotate NAME [--overlap 24h] [--json]
       plinth keys api revoke NAME|ID [--json]
       plinth keys rotate NAME [--overlap 24h] [--json]      (same as keys api rotate)
       plinth keys legacy status|enable|disable [--json]     the legacy JWT API keys`;

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    const [group, sub, ...rest] = args;
    switch (group) {
      case "signing":
        return signing(sub, rest, env);
      case "api":
        return api(sub, rest, env);
      case "rotate":
        return api("rotate", sub === undefined ? rest : [sub, ...rest], env);
      case "legacy":
        return legacy(sub, rest, env);
      case "help":
      case "--help":
        env.stdout(`${USAGE}\n`);
        return EXIT.ok;
      default:
        return printLegacy(args, env);
    }
  });
}

async function printLegacy(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { booleans: ["json"] });
  if (positional.length > 0) throw usageError(`unknown command 'keys ${positional[0]}'\n${USAGE}`);
  const { config } = env.load();
  const secret = resolveJwtSecret(config, config.dataDir);
  if (existsSync(legacyMarkerPath(config.dataDir))) {
    if (flags.json === true) env.stdout(`${JSON.stringify({ legacy_api_keys: "disabled" })}\n`);
    else env.stdout("The legacy anon/service_role keys are disabled: see plinth keys api list\n");
    return EXIT.ok;
  }
  const keys = await legacyApiKeyPair(secret);
  if (flags.json === true) env.stdout(`${JSON.stringify(keys)}\n`);
  else env.stdout(`anon:         ${keys.anon}\nservice_role: ${keys.service_role}\n`);
  return EXIT.ok;
}

/** Runs `body` with local access and one audit record for it, whatever the outcome. */
async function withLocal<T>(env: CommandEnv, action: string, target: string | null, body: (local: LocalAdmin, config: Config) => Promise<T>): Promise<T> {
  const { config } = env.load();
  let local: LocalAdmin;
  try {
    local = await openLocalAdmin(config, env.stderr);
  } catch (err) {
    throw new CommandError(`cannot reach the database: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const result = await body(local, config);
    if (action) await local.record({ action, target, outcome: "ok", security: true });
    return result;
  } catch (err) {
    const code = isPlinthError(err) ? err.code : "internal_error";
    if (action)
      await local
        .record({ action, target, outcome: isPlinthError(err) && err.status < 500 ? "denied" : "error", errorCode: code, security: true })
        .catch(() => {});
    if (isPlinthError(err)) throw new CommandError(`${err.message} (${err.code})`);
    throw err;
  } finally {
    await local.close();
  }
}

const out = (env: CommandEnv, json: boolean, value: unknown, text: string) => env.stdout(json ? `${JSON.stringify(value)}\n` : text);
const warn = (env: CommandEnv) => ({ warn: (m: string) => env.stderr(`plinth: ${m}\n`) });

function master(config: Config): Buffer {
  if (config.env === "production") {
    const problem = keysMasterSecretProblem({ ...config, auth: { ...config.auth, signingAlg: "ES256" } });
    if (problem) throw new CommandError(problem);
  }
  return masterKey(config.auth.keysMasterSecret, resolveJwtSecret(config, config.dataDir));
}

async function signing(sub: string | undefined, args: string[], env: CommandEnv): Promise<number> {
  switch (sub) {
    case "list": {
      const { flags } = parseFlags(args, { booleans: ["json"] });
      const rows = await withLocal(env, "", null, (l) => listSigningKeys(l.sql));
      const list = rows.map(signingKeyJson);
      out(env, flags.json === true, list, list.map((k) => `${k.kid.padEnd(38)} ${k.alg}  ${k.status}\n`).join("") || "no signing keys\n");
      return EXIT.ok;
    }
    case "create": {
      const { flags, positional } = parseFlags(args, { values: ["alg"], booleans: ["json"] });
      if (positional.length) throw usageError(`unexpected argument '${positional[0]}'`);
      const alg = algOf(flags.alg);
      const row = await withLocal(env, "keys.signing.create", null, (l, c) => createSigningKey(l.sql, master(c), alg, warn(env)));
      out(
        env,
        flags.json === true,
        signingKeyJson(row),
        `Created standby ${row.alg} key ${row.kid}. Make it current with: plinth keys signing rotate --kid ${row.kid}\n`,
      );
      return EXIT.ok;
    }
    case "rotate": {
      const { flags, positional } = parseFlags(args, { values: ["alg", "kid"], booleans: ["json"] });
      if (positional.length) throw usageError(`unexpected argument '${positional[0]}'`);
      const kid = typeof flags.kid === "string" ? flags.kid : undefined;
      const r = await withLocal(env, "keys.signing.rotate", kid ? `signing_key:${kid}` : null, (l, c) =>
        rotateSigningKey(l.sql, master(c), { kid, alg: algOf(flags.alg ?? (c.auth.signingAlg === "RS256" ? "RS256" : "ES256")) }, warn(env)),
      );
      out(
        env,
        flags.json === true,
        r,
        `${r.current} (${r.alg}) is now current${r.previous ? `; ${r.previous} is previous (its tokens stay valid until they expire, or until you revoke it)` : ""}.\n`,
      );
      return EXIT.ok;
    }
    case "revoke": {
      const { flags, positional } = parseFlags(args, { booleans: ["json"] });
      const kid = positional[0];
      if (!kid || positional.length > 1) throw usageError("usage: plinth keys signing revoke KID");
      const r = await withLocal(env, "keys.signing.revoke", `signing_key:${kid}`, (l) => revokeSigningKey(l.sql, kid, warn(env)));
      out(env, flags.json === true, r, `Revoked ${kid}: tokens it signed are refused from now on.\n`);
      return EXIT.ok;
    }
    default:
      throw usageError(`${sub === undefined ? "missing command" : `unknown command 'keys signing ${sub}'`}\n${USAGE}`);
  }
}

function algOf(v: string | true | undefined) {
  try {
    return assertAlg(v ?? "ES256");
  } catch {
    throw usageError("--alg must be ES256 or RS256");
  }
}

function durationOf(flag: string, v: string | true | undefined): number | null {
  if (v === undefined) return null;
  const d = typeof v === "string" ? parseDuration(v) : null;
  if (d === null) throw usageError(`--${flag} needs a duration such as 30d, 24h, 15m`);
  return d;
}

async function api(sub: string | undefined, args: string[], env: CommandEnv): Promise<number> {
  switch (sub) {
    case "list": {
      const { flags } = parseFlags(args, { booleans: ["json", "all"] });
      const rows = await withLocal(env, "", null, (l) => listApiKeys(l.sql, { all: flags.all === true }));
      const list = rows.map((r) => apiKeyJson(r));
      out(
        env,
        flags.json === true,
        list,
        list
          .map(
            (k) =>
              `${k.name.padEnd(24)} ${k.kind.padEnd(11)} ${k.prefix}…  ${k.role}  ${k.status}${k.expires_at ? `  expires ${k.expires_at}` : ""}  ${k.request_count} requests\n`,
          )
          .join("") || "no API keys\n",
      );
      return EXIT.ok;
    }
    case "create": {
      const { flags, positional } = parseFlags(args, { values: ["kind", "scopes", "role", "expires"], booleans: ["json"] });
      const name = positional[0];
      if (!name || positional.length > 1)
        throw usageError("usage: plinth keys api create NAME --kind publishable|secret|scoped [--scopes a,b] [--role R] [--expires 30d]");
      if (typeof flags.kind !== "string") throw usageError("--kind publishable|secret|scoped is required");
      const scopes =
        typeof flags.scopes === "string"
          ? flags.scopes
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined;
      const r = await withLocal(env, "keys.api.create", `api_key:${name}`, (l) =>
        createApiKey(
          l.sql,
          {
            name,
            kind: flags.kind as ApiKeyKind,
            scopes,
            role: typeof flags.role === "string" ? flags.role : undefined,
            expiresIn: durationOf("expires", flags.expires),
          },
          warn(env),
        ),
      );
      out(env, flags.json === true, r, `Created ${r.kind} key ${r.name} (${r.id}), acting as ${r.role}.\nKey (shown once, store it now): ${r.key}\n`);
      return EXIT.ok;
    }
    case "rotate": {
      const { flags, positional } = parseFlags(args, { values: ["overlap"], booleans: ["json"] });
      const name = positional[0];
      if (!name || positional.length > 1) throw usageError("usage: plinth keys api rotate NAME [--overlap 24h]");
      const overlap = durationOf("overlap", flags.overlap) ?? 0;
      const r = await withLocal(env, "keys.api.rotate", `api_key:${name}`, (l) => rotateApiKey(l.sql, name, overlap, warn(env)));
      out(env, flags.json === true, r, `Rotated ${name}; the old key works until ${r.old_key_expires_at}.\nNew key (shown once, store it now): ${r.key}\n`);
      return EXIT.ok;
    }
    case "revoke": {
      const { flags, positional } = parseFlags(args, { booleans: ["json"] });
      const ref = positional[0];
      if (!ref || positional.length > 1) throw usageError("usage: plinth keys api revoke NAME|ID");
      const r = await withLocal(env, "keys.api.revoke", `api_key:${ref}`, (l) => revokeApiKey(l.sql, ref, warn(env)));
      out(env, flags.json === true, r, `Revoked ${r.revoked.length} key(s) named ${r.revoked[0]?.name}: refused from now on.\n`);
      return EXIT.ok;
    }
    default:
      throw usageError(`${sub === undefined ? "missing command" : `unknown command 'keys api ${sub}'`}\n${USAGE}`);
  }
}

async function legacy(sub: string | undefined, args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { booleans: ["json"] });
  if (positional.length) throw usageError(`unexpected argument '${positional[0]}'`);
  if (sub !== "status" && sub !== "enable" && sub !== "disable") throw usageError("usage: plinth keys legacy status|enable|disable");
  const enabled =
    sub === "status"
      ? await withLocal(env, "", null, (l) => legacyApiKeysEnabled(l.sql))
      : (await withLocal(env, `keys.legacy.${sub}`, "legacy_api_keys", (l) => setLegacyApiKeys(l.sql, sub === "enable", warn(env)))).legacy_api_keys;
  if (sub !== "status") writeLegacyMarker(env.load().config.dataDir, enabled);
  out(env, flags.json === true, { legacy_api_keys: enabled }, `The legacy anon/service_role keys are ${enabled ? "enabled" : "disabled"}.\n`);
  return EXIT.ok;
}
