// Signing keys in the database (plinth.signing_keys, migration 0017): create, rotate, revoke,
// import a JWK set file, and the first key of a new project. Shared by the CLI and the admin API;
// every change raises a security event here, and is audited by the caller (one record per call).
//
// Lifecycle: standby (published in the JWKS, signs nothing) → current (signs new access tokens; one
// at most) → previous (verifies the tokens it signed until they expire) → revoked (its tokens are
// refused at once, on every node: the change notifies `plinth_keys`). The legacy HS256 secret is the
// row 'legacy-hs256' (no key material: the secret stays in the configuration); it is current until
// an asymmetric key takes over and can then be revoked like any previous key.
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair, importJWK } from "jose";
import type postgres from "postgres";
import { raiseSecurityEvent } from "../admin/security/events.ts";
import type { Sql } from "../db/pool.ts";
import { PlinthError } from "../errors.ts";
import { sealPrivateKey } from "./at-rest.ts";

export const LEGACY_KID = "legacy-hs256";
export type SigningAlg = "ES256" | "RS256";
export type SigningStatus = "standby" | "current" | "previous" | "revoked";

export interface SigningKeyRow {
  kid: string;
  alg: SigningAlg | "HS256";
  status: SigningStatus;
  public_jwk: Record<string, unknown> | null;
  private_enc: string | null;
  imported: boolean;
  created_at: Date;
  activated_at: Date | null;
  revoked_at: Date | null;
}

/** What `list --json` and the admin API show (never key material beyond the public JWK). */
export function signingKeyJson(r: SigningKeyRow) {
  return {
    kid: r.kid,
    alg: r.alg,
    status: r.status,
    imported: r.imported,
    created_at: r.created_at.toISOString(),
    activated_at: r.activated_at?.toISOString() ?? null,
    revoked_at: r.revoked_at?.toISOString() ?? null,
  };
}

export const SigningErrors = {
  notFound: (kid: string) => new PlinthError(404, "signing_key_not_found", `No signing key with kid '${kid.slice(0, 80)}'`),
  isCurrent: () => new PlinthError(409, "signing_key_current", "The current signing key cannot be revoked: rotate to another key first"),
  alreadyRevoked: () => new PlinthError(409, "signing_key_revoked", "This signing key is already revoked"),
  notStandby: () => new PlinthError(409, "signing_key_not_standby", "Only a standby key can be made current"),
  badAlg: (alg: string) => new PlinthError(400, "validation_failed", `Unsupported signing algorithm '${String(alg).slice(0, 20)}' (ES256 or RS256)`),
  badImport: (why: string) => new PlinthError(400, "invalid_signing_keys_file", why),
};

type Q = Sql | postgres.TransactionSql;

export async function listSigningKeys(sql: Q): Promise<SigningKeyRow[]> {
  return sql<SigningKeyRow[]>`
    select kid, alg, status, public_jwk, private_enc, imported, created_at, activated_at, revoked_at
    from plinth.signing_keys
    order by case status when 'current' then 0 when 'standby' then 1 when 'previous' then 2 else 3 end, created_at desc`;
}

export async function newKeyPair(alg: SigningAlg): Promise<{ publicJwk: Record<string, unknown>; privateJwk: Record<string, unknown> }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "RS256" ? { modulusLength: 2048 } : {}) });
  return { publicJwk: { ...(await exportJWK(publicKey)) }, privateJwk: { ...(await exportJWK(privateKey)) } };
}

export function assertAlg(alg: unknown): SigningAlg {
  if (alg === "ES256" || alg === "RS256") return alg;
  throw SigningErrors.badAlg(String(alg));
}

/** A new standby key. */
export async function createSigningKey(sql: Sql, master: Buffer, alg: SigningAlg, log?: { warn(msg: string, f?: object): void }) {
  const row = await insertKey(sql, master, alg, "standby");
  await raiseSecurityEvent(sql, { kind: "key_created", severity: "medium", details: { key: "signing", kid: row.kid, alg, status: "standby" } }, log);
  return row;
}

async function insertKey(sql: Q, master: Buffer, alg: SigningAlg, status: SigningStatus, given?: { kid: string; publicJwk: object; privateJwk: object }) {
  const kid = given?.kid ?? crypto.randomUUID();
  const pair = given ?? { ...(await newKeyPair(alg)), kid };
  const publicJwk = { ...publicOnly(pair.publicJwk as Record<string, unknown>), kid, alg, use: "sig" };
  const [row] = await sql<SigningKeyRow[]>`
    insert into plinth.signing_keys (kid, alg, status, public_jwk, private_enc, imported, activated_at)
    values (${kid}, ${alg}, ${status}, ${sql.json(publicJwk as postgres.JSONValue)}, ${sealPrivateKey(master, kid, pair.privateJwk)},
            ${given !== undefined}, ${status === "current" ? sql`now()` : null})
    returning kid, alg, status, public_jwk, private_enc, imported, created_at, activated_at, revoked_at`;
  return row!;
}

/** The public members of a JWK (an imported private JWK must not leak `d`, `p`, `q`… into the JWKS). */
function publicOnly(jwk: Record<string, unknown>): Record<string, unknown> {
  const keep = jwk.kty === "RSA" ? ["kty", "n", "e"] : ["kty", "crv", "x", "y"];
  return Object.fromEntries(keep.filter((k) => jwk[k] !== undefined).map((k) => [k, jwk[k]]));
}

/**
 * Makes `kid` (or the newest standby key; without one, a new key of `alg`) current; the current key
 * becomes previous. Tokens already issued stay valid: nobody is signed out.
 */
export async function rotateSigningKey(sql: Sql, master: Buffer, opts: { kid?: string; alg: SigningAlg }, log?: { warn(msg: string, f?: object): void }) {
  const result = await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('plinth.signing_keys'))`;
    let next: SigningKeyRow | undefined;
    if (opts.kid) {
      [next] = await tx<SigningKeyRow[]>`select * from plinth.signing_keys where kid = ${opts.kid}`;
      if (!next) throw SigningErrors.notFound(opts.kid);
      if (next.status !== "standby") throw SigningErrors.notStandby();
    } else {
      [next] = await tx<SigningKeyRow[]>`select * from plinth.signing_keys where status = 'standby' and alg <> 'HS256' order by created_at desc limit 1`;
      next ??= await insertKey(tx, master, opts.alg, "standby");
    }
    const [old] = await tx<{ kid: string }[]>`
      update plinth.signing_keys set status = 'previous' where status = 'current' returning kid`;
    await tx`update plinth.signing_keys set status = 'current', activated_at = now() where kid = ${next.kid}`;
    return { current: next.kid, alg: next.alg, previous: old?.kid ?? null };
  });
  await raiseSecurityEvent(sql, { kind: "key_created", severity: "medium", details: { key: "signing", action: "rotate", ...result } }, log);
  return result;
}

/** Revokes a standby or previous key: every token it signed is refused from now on, on every node. */
export async function revokeSigningKey(sql: Sql, kid: string, log?: { warn(msg: string, f?: object): void }) {
  const [row] = await sql<{ status: SigningStatus }[]>`select status from plinth.signing_keys where kid = ${kid}`;
  if (!row) throw SigningErrors.notFound(kid);
  if (row.status === "current") throw SigningErrors.isCurrent();
  if (row.status === "revoked") throw SigningErrors.alreadyRevoked();
  const [done] = await sql<{ kid: string }[]>`
    update plinth.signing_keys set status = 'revoked', revoked_at = now()
    where kid = ${kid} and status in ('standby', 'previous') returning kid`;
  if (!done) throw SigningErrors.isCurrent(); // it became current in between
  await raiseSecurityEvent(sql, { kind: "key_revoked", severity: "high", details: { key: "signing", kid } }, log);
  return { kid, status: "revoked" as const };
}

/**
 * At start: keys from the JWK set file (`auth.signingKeysPath`, the Supabase CLI's format: a JSON
 * array of private JWKs, or {"keys": [...]}) that the database does not have yet, the first of them
 * current when no asymmetric key is; then, for a project configured for asymmetric signing
 * (`auth.signingAlg`, ES256 from `plinth init`) that has none, a new current key. Several nodes
 * starting at once agree through an advisory lock.
 */
export async function prepareSigningKeys(
  sql: Sql,
  master: Buffer,
  opts: { file?: string; alg: SigningAlg | "HS256" },
  log?: { warn(msg: string, f?: object): void },
) {
  const imported = opts.file ? await readKeyFile(opts.file) : [];
  const created: string[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('plinth.signing_keys'))`;
    const have = new Set((await tx<{ kid: string }[]>`select kid from plinth.signing_keys`).map((r) => r.kid));
    let [asym] = await tx<{ kid: string }[]>`select kid from plinth.signing_keys where status = 'current' and alg <> 'HS256'`;
    for (const k of imported) {
      if (have.has(k.kid)) continue;
      const status: SigningStatus = asym ? "standby" : "current";
      if (status === "current") await tx`update plinth.signing_keys set status = 'previous' where status = 'current'`;
      await insertKey(tx, master, k.alg, status, k);
      created.push(k.kid);
      asym ??= { kid: k.kid };
    }
    if (!asym && opts.alg !== "HS256") {
      await tx`update plinth.signing_keys set status = 'previous' where status = 'current'`;
      const row = await insertKey(tx, master, opts.alg, "current");
      created.push(row.kid);
    }
  });
  for (const kid of created) {
    await raiseSecurityEvent(
      sql,
      { kind: "key_created", severity: "medium", details: { key: "signing", kid, imported: imported.some((k) => k.kid === kid) } },
      log,
    );
  }
  return created;
}

async function readKeyFile(file: string): Promise<{ kid: string; alg: SigningAlg; publicJwk: object; privateJwk: object }[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw SigningErrors.badImport(`The signing keys file ${file} could not be read as JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw SigningErrors.badImport(`The signing keys file ${file} must hold a JSON array of JWKs or {"keys": [...]}`);
  const out = [];
  for (const [i, jwk] of list.entries()) {
    const j = jwk as Record<string, unknown>;
    const alg = j.alg ?? (j.kty === "EC" ? "ES256" : j.kty === "RSA" ? "RS256" : undefined);
    if (alg !== "ES256" && alg !== "RS256") throw SigningErrors.badImport(`Key ${i} of ${file}: only ES256 and RS256 keys can be imported`);
    if (typeof j.kid !== "string" || !/^[A-Za-z0-9._:-]{1,128}$/.test(j.kid)) throw SigningErrors.badImport(`Key ${i} of ${file} needs a kid`);
    if (typeof j.d !== "string") throw SigningErrors.badImport(`Key ${i} of ${file} is not a private key (no "d")`);
    // Only the key material: the Supabase CLI writes key_ops ["sign", "verify"], which WebCrypto
    // refuses on a private EC key, and `use`/`key_ops` are Plinth's to set.
    const keep = j.kty === "RSA" ? ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"] : ["kty", "crv", "x", "y", "d"];
    const privateJwk = Object.fromEntries(keep.filter((k) => j[k] !== undefined).map((k) => [k, j[k]]));
    try {
      await importJWK(privateJwk as never, alg); // refuses a malformed key now, not at the first sign-in
    } catch (err) {
      throw SigningErrors.badImport(`Key ${i} of ${file} is not a usable ${alg} key: ${(err as Error).message}`);
    }
    out.push({ kid: j.kid, alg: alg as SigningAlg, publicJwk: publicOnly(j), privateJwk });
  }
  return out;
}
