// Storage's two plugin events (src/plugins/): storage.after_upload once an object's row is committed
// (POST/PUT, signed and TUS uploads, copy — every path that records a new version goes through
// recordVersion), and storage.before_delete before a delete's transaction, where a plugin may refuse
// it (403 plugin_refused, rendered in storage's wire shape) or, by its policy, a failing hook refuses
// it (503 plugin_hook_failed). Nothing is built when no plugin listens: pluginsOf() is undefined
// without plugins and listens() is a few property reads.
import type { Principal } from "../db/pool.ts";
import { pluginsOf } from "../plugins/auth-events.ts";
import type { StorageContext } from "./context.ts";
import type { ObjectInput } from "./db.ts";

const who = (p: Principal) => ({ role: p.role, sub: typeof p.claims.sub === "string" ? p.claims.sub : null });

export function afterUpload(ctx: StorageContext, principal: Principal, row: ObjectInput, id: string, replaced: boolean): void {
  const host = pluginsOf(ctx);
  if (!host?.listens("storage.after_upload")) return;
  const meta = row.metadata as { size?: number; mimetype?: string; eTag?: string };
  host.notify("storage.after_upload", {
    bucket: row.bucket_id,
    name: row.name,
    id,
    version: row.version,
    size: meta.size ?? null,
    mimetype: meta.mimetype ?? null,
    etag: meta.eTag ?? null,
    owner: row.owner_id,
    replaced,
    caller: who(principal),
  });
}

/** Throws the refusal (or the failed hook's 503 under policy "reject"); returns when the delete may go on. */
export async function beforeDelete(
  ctx: StorageContext,
  principal: Principal,
  bucket: string,
  names: string[],
  versions: { path: string; versionId: string }[],
): Promise<void> {
  const host = pluginsOf(ctx);
  if (!host?.listens("storage.before_delete")) return;
  await host.runHooks("storage.before_delete", { bucket, names, versions, caller: who(principal) });
}
