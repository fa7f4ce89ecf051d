// What the storage domain functions share: the database, the byte backend, the signing secret and
// limits. Built once by createStorageService; no globals.
import type { Database, Principal, Tx } from "../db/pool.ts";
import type { Logger } from "../log.ts";
import type { StorageBackend } from "./backends/backend.ts";
import { versionKey } from "./backends/backend.ts";
import { unreferencedVersions } from "./db.ts";
import { errors, fromDatabaseError } from "./errors.ts";

export interface StorageContext {
  db: Database;
  backend: StorageBackend;
  secret: string;
  log: Logger;
  /** Largest object accepted whatever the bucket says (config.storage.fileSizeLimit). */
  globalFileSizeLimit: number;
  /** Whether /render/image answers (config.storage.imageTransformation.enabled); absent: yes. */
  imageTransformation?: boolean;
}

/** The caller, or Supabase's 403 "Invalid Compact JWS" when the request carried no key. */
export function requireCaller(principal: Principal | null): Principal {
  if (!principal) throw errors.unauthenticated();
  return principal;
}

export const SERVICE_ROLE: Principal = { role: "service_role", claims: { role: "service_role" } };

/** The JWT subject recorded as owner (Supabase: owner_id = sub; owner = sub when it is a UUID). */
export function ownerOf(principal: Principal): string | null {
  const sub = principal.claims.sub;
  return typeof sub === "string" && sub.length > 0 ? sub : null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const ownerUuid = (owner: string | null): string | null => (owner && UUID.test(owner) ? owner : null);

/** Runs fn as the caller (RLS applies) and maps database errors to storage errors. */
export async function asCaller<T>(ctx: StorageContext, principal: Principal, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return await ctx.db.withPrincipal(principal, fn);
  } catch (err) {
    throw fromDatabaseError(err);
  }
}

/**
 * After a commit that replaced or removed rows: deletes the bytes of versions no row refers to any
 * more. Failures are only logged; the sweeper removes whatever is left.
 */
export async function releaseVersions(ctx: StorageContext, versions: (string | null | undefined)[]): Promise<void> {
  const candidates = [...new Set(versions.filter((v): v is string => typeof v === "string" && v.length > 0))];
  if (candidates.length === 0) return;
  try {
    const gone = await unreferencedVersions(ctx.db.sql, candidates);
    await ctx.backend.delete(gone.map(versionKey));
  } catch (err) {
    ctx.log.warn("storage: could not delete replaced bytes (the sweeper will)", { error: err });
  }
}
