// The node's key ring: every signing key and API key of the project, in memory, so the gateway
// answers "who is this?" without a database round trip. One ring per database pool (a pool is a
// node: two createApp instances on one pool are one node, on two pools two nodes), kept in a
// WeakMap so it dies with its pool and every part of the node (gateway, auth, admin) shares it.
//
// Freshness: a change to the keys notifies `plinth_keys` in its transaction (migration 0017), and
// the ring reloads when its listener hears it; in case the listener is down or reconnecting, the
// ring also compares plinth.key_state.version once a second (RECHECK_MS) and reloads on a
// difference. A revocation therefore reaches every node within about a second at worst, usually
// within milliseconds. Each reload bumps `generation`, which voids every verdict the gateway
// cached (src/http/principal.ts): a revoked key's tokens are refused at once, even cached ones.
//
// API key usage (last use, request count) is counted here in memory and flushed by one UPDATE
// every FLUSH_MS and at stop: no database write per request.
//
// Trap: until the first load finishes nothing is known; verify() and apiKey() wait for it (the
// services' start awaits ready(), so a serving node has always loaded). If the tables are missing
// (a database without migration 0017) the ring serves the legacy HS256 secret alone.
import { importJWK } from "jose";
import type { Config } from "../config/schema.ts";
import type { Database, Principal, Sql } from "../db/pool.ts";
import { apiKeys as legacyApiKeyPair, hmacKey, peekHeader, signWithKey, verifyWithKey, type JwtClaims, type JwtResult, type VerifyKey } from "../lib/jwt.ts";
import type { Logger } from "../log.ts";
import { openPrivateKey, masterKey } from "./at-rest.ts";
import { apiKeyHash, type ApiKeyKind, type ApiKeyRow } from "./api-keys.ts";
import { LEGACY_KID, prepareSigningKeys, type SigningKeyRow, type SigningStatus } from "./signing.ts";

export const KEYS_CHANNEL = "plinth_keys";
export const RECHECK_MS = 1000;
export const FLUSH_MS = 10_000;

interface SigningEntry {
  kid: string;
  alg: string;
  status: SigningStatus;
  verifyKey: VerifyKey;
  publicJwk: Record<string, unknown> | null;
  signKey: VerifyKey | null;
}

/** What a verified API key grants, for the gateway. */
export interface ApiKeyGrant {
  id: string;
  name: string;
  kind: ApiKeyKind;
  /** Scoped keys only (null: every API the role may use). */
  scopes: ReadonlySet<string> | null;
  principal: Principal;
}

export type ApiKeyFailure = "unknown_api_key" | "api_key_revoked" | "api_key_expired";
export type ApiKeyResult = { ok: true; grant: ApiKeyGrant } | { ok: false; reason: ApiKeyFailure };

interface ApiKeyEntry {
  grant: ApiKeyGrant;
  expiresAt: number | null;
  revoked: boolean;
}

export interface KeyRingOptions {
  config: Config;
  jwtSecret: string;
  log: Logger;
}

const rings = new WeakMap<Database, KeyRing>();

/** The ring of this pool (node), created and started on first use. */
export function keyRingFor(db: Database, opts: KeyRingOptions): KeyRing {
  let ring = rings.get(db);
  if (!ring || ring.isStopped) {
    ring = new KeyRing(db.sql, opts);
    rings.set(db, ring);
  }
  return ring;
}

export class KeyRing {
  /** Bumped by every reload: verdicts cached under an older generation are void. */
  generation = 0;
  readonly master: Buffer;
  private signing = new Map<string, SigningEntry>();
  private current: SigningEntry | null = null;
  private legacyStatus: SigningStatus = "current";
  /** The legacy secret as a WebCrypto HMAC key, imported once (loadOnce) and shared with src/lib/jwt.ts. */
  private legacyKey: VerifyKey | null = null;
  /** The legacy anon/service_role keys, compared by exact string (canonical tokens only reach it). */
  private legacyPair = new Set<string>();
  private legacyApiKeys = true;
  private byHash = new Map<string, ApiKeyEntry>();
  private version: bigint | null = null;
  private usage = new Map<string, { n: number; last: number }>();
  private jwksBody = '{"keys":[]}';
  private loaded = false;
  private starting: Promise<void> | null = null;
  private reloading: Promise<void> | null = null;
  private again = false;
  private timers: ReturnType<typeof setInterval>[] = [];
  private unlisten: (() => Promise<void>) | null = null;
  private refs = 0;
  private stopped = false;

  constructor(
    private readonly sql: Sql,
    private readonly o: KeyRingOptions,
  ) {
    this.master = masterKey(o.config.auth.keysMasterSecret, o.jwtSecret);
  }

  /** An app that serves with this ring holds a reference; the last release() stops it. */
  retain(): void {
    this.refs++;
  }

  /** Loads the keys (once per ring; later calls wait for the same load). */
  ready(): Promise<void> {
    this.starting ??= this.start();
    return this.starting;
  }

  private async start(): Promise<void> {
    const a = this.o.config.auth;
    // A bad key file fails the start (serve stops with the reason), but the ring still loads what
    // the database holds first: a node must never fall back to trusting a retired legacy secret.
    let failed: unknown = null;
    try {
      await prepareSigningKeys(this.sql, this.master, { file: a.signingKeysPath, alg: a.signingAlg }, this.o.log);
    } catch (err) {
      if (!missingTables(err)) failed = err;
    }
    await this.reload();
    try {
      const listening = await this.sql.listen(
        KEYS_CHANNEL,
        () => void this.reload(),
        () => void this.reload(), // (re)connected: whatever happened meanwhile
      );
      this.unlisten = listening.unlisten;
    } catch (err) {
      this.o.log.warn("keys: could not listen for key changes; re-checking every second", { error: (err as Error).message });
    }
    const recheck = setInterval(() => void this.recheck(), RECHECK_MS);
    const flush = setInterval(() => void this.flushUsage(), FLUSH_MS);
    recheck.unref?.();
    flush.unref?.();
    this.timers.push(recheck, flush);
    if (failed) throw failed;
  }

  private async recheck(): Promise<void> {
    try {
      const [row] = await this.sql<{ version: string }[]>`select version from plinth.key_state`;
      if (row && BigInt(row.version) !== this.version) await this.reload();
    } catch {
      /* the database is down: the next tick tries again */
    }
  }

  /** Re-reads every key; concurrent calls coalesce (one more pass runs if a change came in meanwhile). */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.again = false;
          await this.loadOnce();
        } while (this.again);
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  private async loadOnce(): Promise<void> {
    let state: { version: string; legacy_api_keys: boolean } | undefined;
    let signingRows: SigningKeyRow[];
    let apiRows: ApiKeyRow[];
    try {
      [state] = await this.sql<{ version: string; legacy_api_keys: boolean }[]>`select version, legacy_api_keys from plinth.key_state`;
      signingRows = await this.sql<SigningKeyRow[]>`select * from plinth.signing_keys`;
      apiRows = await this.sql<ApiKeyRow[]>`select * from plinth.api_keys where revoked_at is null or revoked_at > now() - interval '30 days'`;
    } catch (err) {
      if (!missingTables(err)) {
        this.o.log.warn("keys: reload failed; keeping the keys loaded before", { error: (err as Error).message });
        if (this.loaded) return;
      }
      // No keys tables (or nothing loaded yet): the legacy secret alone.
      state = { version: "0", legacy_api_keys: true };
      signingRows = [];
      apiRows = [];
    }
    if (!this.legacyKey) {
      const pair = await legacyApiKeyPair(this.o.jwtSecret);
      this.legacyPair = new Set([pair.anon, pair.service_role]);
      this.legacyKey = await hmacKey(this.o.jwtSecret);
    }
    const signing = new Map<string, SigningEntry>();
    let current: SigningEntry | null = null;
    let legacyStatus: SigningStatus = "current";
    for (const r of signingRows) {
      if (r.kid === LEGACY_KID) {
        legacyStatus = r.status;
        continue;
      }
      if (!r.public_jwk) continue;
      let signKey: VerifyKey | null = null;
      if (r.status === "current" && r.private_enc) {
        const jwk = openPrivateKey(this.master, r.kid, r.private_enc);
        if (jwk) signKey = (await importJWK(jwk as never, r.alg)) as VerifyKey;
        else this.o.log.error("keys: the current signing key does not decrypt with this master secret; signing with the legacy secret", { kid: r.kid });
      }
      const entry: SigningEntry = {
        kid: r.kid,
        alg: r.alg,
        status: r.status,
        verifyKey: (await importJWK(r.public_jwk as never, r.alg)) as VerifyKey,
        publicJwk: r.public_jwk,
        signKey,
      };
      signing.set(r.kid, entry);
      if (r.status === "current" && signKey) current = entry;
    }
    const byHash = new Map<string, ApiKeyEntry>();
    const iss = "plinth";
    for (const r of apiRows) {
      const claims = Object.freeze({ iss, role: r.role, ...(r.kind === "scoped" ? { api_key: r.name } : {}) });
      const principal: Principal = Object.freeze({ role: r.role, claims, claimsJson: JSON.stringify(claims) });
      byHash.set(r.secret_hash, {
        grant: Object.freeze({ id: r.id, name: r.name, kind: r.kind, scopes: r.kind === "scoped" ? new Set(r.scopes) : null, principal }),
        expiresAt: r.expires_at ? r.expires_at.getTime() : null,
        revoked: r.revoked_at !== null,
      });
    }
    const published = [...signing.values()]
      .filter((e) => e.status !== "revoked" && e.publicJwk)
      .map((e) => ({ ...e.publicJwk, kid: e.kid, alg: e.alg, use: "sig", key_ops: ["verify"] }));
    // One swap, no await in between: a request sees the old ring or the new one, never half.
    this.signing = signing;
    this.current = current;
    this.legacyStatus = legacyStatus;
    this.byHash = byHash;
    this.legacyApiKeys = state?.legacy_api_keys ?? true;
    this.version = BigInt(state?.version ?? "0");
    this.jwksBody = JSON.stringify({ keys: published });
    this.generation++;
    this.loaded = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Whether the ring has loaded (the gateway's synchronous fast path needs it). */
  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Verifies a JWT against the key its header names. Never throws. */
  async verify(token: string, leewaySeconds = 30): Promise<JwtResult & { kid?: string }> {
    const h = peekHeader(token);
    if (!h.ok) return h;
    if (!this.loaded) await this.ready().catch(() => {});
    if (h.alg === "HS256") {
      // Only the legacy secret is an HMAC key: an HS256 token naming an asymmetric key's kid (the
      // public key used as an HMAC secret) is refused here, before any HMAC is computed.
      if (h.kid !== undefined && h.kid !== LEGACY_KID) return { ok: false, reason: "unknown_kid" };
      if (this.legacyStatus === "revoked") return { ok: false, reason: "key_revoked" };
      const v = await verifyWithKey(token, this.legacyKey ?? (await hmacKey(this.o.jwtSecret)), "HS256", leewaySeconds);
      if (v.ok && !this.legacyApiKeys && this.legacyPair.has(token)) return { ok: false, reason: "legacy_key_disabled" };
      return v;
    }
    if (h.alg !== "ES256" && h.alg !== "RS256") return { ok: false, reason: "unsupported_alg" };
    const entry = h.kid === undefined ? undefined : this.signing.get(h.kid);
    if (!entry) return { ok: false, reason: "unknown_kid" };
    if (entry.status === "revoked") return { ok: false, reason: "key_revoked" };
    if (entry.alg !== h.alg) return { ok: false, reason: "unsupported_alg" };
    const v = await verifyWithKey(token, entry.verifyKey, entry.alg, leewaySeconds);
    return v.ok ? { ...v, kid: entry.kid } : v;
  }

  /** Which kid a cached verdict depends on is not tracked: any reload voids them all (generation). */
  apiKey(token: string, now = Date.now()): ApiKeyResult {
    const e = this.byHash.get(apiKeyHash(token));
    if (!e) return { ok: false, reason: "unknown_api_key" };
    if (e.revoked) return { ok: false, reason: "api_key_revoked" };
    if (e.expiresAt !== null && e.expiresAt <= now) return { ok: false, reason: "api_key_expired" };
    const u = this.usage.get(e.grant.id);
    if (u) {
      u.n++;
      u.last = now;
    } else this.usage.set(e.grant.id, { n: 1, last: now });
    return { ok: true, grant: e.grant };
  }

  /** Signs an access token with the current key (the legacy secret while no asymmetric key is current). */
  async sign(claims: JwtClaims): Promise<string> {
    if (!this.loaded) await this.ready().catch(() => {});
    const c = this.current;
    if (c?.signKey) return signWithKey(claims, c.signKey, c.alg, c.kid);
    if (this.legacyStatus === "revoked") throw new Error("no signing key: the legacy secret is revoked and no asymmetric key is current");
    return signWithKey(claims, this.legacyKey ?? (await hmacKey(this.o.jwtSecret)), "HS256");
  }

  /** The JWKS document (asymmetric keys in use or on standby), serialised once per reload. */
  jwks(): string {
    return this.jwksBody;
  }

  /** Requests counted since the last flush (for listings that want exact numbers). */
  pendingUsage(id: string): { n: number; last: number } | undefined {
    return this.usage.get(id);
  }

  /** Writes the counted usage in one statement. */
  async flushUsage(): Promise<void> {
    if (this.usage.size === 0) return;
    const batch = this.usage;
    this.usage = new Map();
    const ids = [...batch.keys()];
    try {
      await this.sql`
        update plinth.api_keys k
        set request_count = k.request_count + u.n, last_used_at = greatest(k.last_used_at, u.last)
        from (select unnest(${ids}::uuid[]) as id, unnest(${ids.map((i) => batch.get(i)!.n)}::bigint[]) as n,
                     unnest(${ids.map((i) => new Date(batch.get(i)!.last).toISOString())}::timestamptz[]) as last) u
        where k.id = u.id`;
    } catch (err) {
      // Put the counts back for the next flush: usage is lost only if the node dies first.
      for (const [id, u] of batch) {
        const now = this.usage.get(id);
        if (now) {
          now.n += u.n;
          now.last = Math.max(now.last, u.last);
        } else this.usage.set(id, u);
      }
      if (!this.stopped) this.o.log.warn("keys: usage flush failed", { error: (err as Error).message });
    }
  }

  /** Drops one reference; the last one stops the listener and timers and flushes usage. */
  async release(): Promise<void> {
    if (--this.refs > 0) return;
    await this.stop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.starting?.catch(() => {});
    for (const t of this.timers) clearInterval(t);
    await this.flushUsage();
    this.stopped = true;
    await this.unlisten?.().catch(() => {});
  }
}

function missingTables(err: unknown): boolean {
  return (err as { code?: string })?.code === "42P01";
}
