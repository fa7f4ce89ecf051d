// Signed URL tokens: HS256 JWTs signed with the project secret, bound to "bucket/name" and an expiry,
// as Supabase issues them ({url, iat, exp}), signed and verified with jose (src/lib/jwt.ts).
//
// Download tokens may also carry the one version they grant; a download token without a version
// grants the current object only, and a `?versionId=` the token does not name is refused (the query
// string is the holder's to edit, the token is not).
//
// Upload tokens carry the upsert flag and the signer: their role and verified JWT claims. The upload
// made with the token runs as that signer, so the signer's policies decide again at upload time and
// the owner recorded is the signer. Traps:
//   - the signer's role sits under `signer`, never at the top level: the gateway accepts any JWT
//     signed with this secret whose top-level `role` is an API role, and an upload URL handed to a
//     third party must not become a session of the signer;
//   - the claims travel readable in the URL (as in any JWT), so whatever the signer's access token
//     says (email, metadata) the URL says too; policies may read any claim, so none is dropped;
//   - a token without a signer (issued before signers were recorded) is refused, never run as the
//     service role.
// A download token never passes as an upload token (and vice versa).
import { signJwt, verifyJwt } from "../lib/jwt.ts";
import { isApiRole, type Principal } from "../db/pool.ts";
import { errors } from "./errors.ts";

export interface DownloadGrant {
  bucket: string;
  name: string;
  versionId?: string;
  /**
   * Image transformation options in their token form (image/options.ts). A token carrying them
   * grants that rendering only (/render/image/sign), never the original bytes (/object/sign):
   * sharing a thumbnail must not share the full-size image.
   */
  transformations?: string;
}

export interface UploadGrant {
  bucket: string;
  name: string;
  upsert: boolean;
  /** Who signed: the upload runs as them. */
  signer: Principal;
}

export function signDownload(secret: string, grant: DownloadGrant, expiresIn: number): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return signJwt(
    {
      url: `${grant.bucket}/${grant.name}`,
      ...(grant.versionId ? { version: grant.versionId } : {}),
      ...(grant.transformations ? { transformations: grant.transformations } : {}),
      iat,
      exp: iat + expiresIn,
    },
    secret,
  );
}

export function signUpload(secret: string, grant: UploadGrant, expiresIn = 2 * 3600): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const owner = typeof grant.signer.claims.sub === "string" ? grant.signer.claims.sub : undefined;
  return signJwt(
    {
      url: `${grant.bucket}/${grant.name}`,
      // `owner` is what Supabase's tokens carry; Plinth reads `signer`.
      owner,
      upsert: grant.upsert,
      scope: "upload",
      signer: { role: grant.signer.role, claims: grant.signer.claims },
      iat,
      exp: iat + expiresIn,
    },
    secret,
  );
}

async function verify(secret: string, token: string | null) {
  if (!token) throw errors.invalidSignature("Missing token");
  // No clock leeway: a signed URL's expiry is exact.
  const v = await verifyJwt(token, secret, Date.now() / 1000, 0);
  if (!v.ok) throw v.reason === "expired" ? errors.expiredToken() : errors.invalidSignature(`Invalid signature: ${v.reason}`);
  return v.claims;
}

/**
 * The version a download token grants (null: the current object). `askedVersion` is the request's
 * `?versionId=`: it may only repeat what the token says.
 */
export async function verifyDownload(secret: string, token: string | null, bucket: string, name: string, askedVersion: string | null): Promise<string | null> {
  const grant = await verifyDownloadGrant(secret, token, bucket, name, askedVersion);
  if (grant.transformations !== null) throw errors.invalidSignature("Invalid signature: token grants a transformed image only");
  return grant.version;
}

/** What a download token grants: the version (null: current) and the transformations (null: none). */
export async function verifyDownloadGrant(
  secret: string,
  token: string | null,
  bucket: string,
  name: string,
  askedVersion: string | null,
): Promise<{ version: string | null; transformations: string | null; exp: number }> {
  const claims = await verify(secret, token);
  if (claims.scope !== undefined || claims.role !== undefined || claims.url !== `${bucket}/${name}`) {
    throw errors.invalidSignature("Invalid signature: token does not match this object");
  }
  const granted = typeof claims.version === "string" ? claims.version : null;
  if (askedVersion && askedVersion !== granted) throw errors.invalidSignature("Invalid signature: token does not match this object version");
  const transformations = typeof claims.transformations === "string" && claims.transformations !== "" ? claims.transformations : null;
  return { version: granted, transformations, exp: Number(claims.exp) };
}

export async function verifyUpload(secret: string, token: string | null, bucket: string, name: string): Promise<UploadGrant> {
  const claims = await verify(secret, token);
  if (claims.scope !== "upload" || claims.url !== `${bucket}/${name}` || claims.role !== undefined) throw errors.invalidUploadSignature();
  const signer = claims.signer as { role?: unknown; claims?: unknown } | undefined;
  if (!signer || typeof signer !== "object" || !isApiRole(signer.role) || !signer.claims || typeof signer.claims !== "object" || Array.isArray(signer.claims)) {
    throw errors.invalidUploadSignature();
  }
  return { bucket, name, upsert: claims.upsert === true, signer: { role: signer.role, claims: signer.claims as Record<string, unknown> } };
}
