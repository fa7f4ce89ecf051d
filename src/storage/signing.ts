// Signed URL tokens: HS256 JWTs signed with the project secret, bound to "bucket/name" and an expiry,
// as Supabase issues them ({url, iat, exp}). Upload tokens also carry the uploader and upsert flag.
// A download token can never pass as an upload token (and vice versa), and neither carries a role,
// so the gateway refuses them as API keys.
import { signJwt, verifyJwt } from "../auth/jwt.ts";
import { errors } from "./errors.ts";

export interface DownloadGrant {
  bucket: string;
  name: string;
  versionId?: string;
}

export interface UploadGrant {
  bucket: string;
  name: string;
  owner: string | null;
  upsert: boolean;
}

export function signDownload(secret: string, grant: DownloadGrant, expiresIn: number): string {
  const iat = Math.floor(Date.now() / 1000);
  return signJwt({ url: `${grant.bucket}/${grant.name}`, ...(grant.versionId ? { version: grant.versionId } : {}), iat, exp: iat + expiresIn }, secret);
}

export function signUpload(secret: string, grant: UploadGrant, expiresIn = 2 * 3600): string {
  const iat = Math.floor(Date.now() / 1000);
  return signJwt({ url: `${grant.bucket}/${grant.name}`, owner: grant.owner ?? undefined, upsert: grant.upsert, scope: "upload", iat, exp: iat + expiresIn }, secret);
}

function verify(secret: string, token: string | null) {
  if (!token) throw errors.invalidSignature("Missing token");
  // No clock leeway: a signed URL's expiry is exact.
  const v = verifyJwt(token, secret, Date.now() / 1000, 0);
  if (!v.ok) throw v.reason === "expired" ? errors.expiredToken() : errors.invalidSignature(`Invalid signature: ${v.reason}`);
  return v.claims;
}

export function verifyDownload(secret: string, token: string | null, bucket: string, name: string): { versionId?: string } {
  const claims = verify(secret, token);
  if (claims.scope !== undefined || claims.role !== undefined || claims.url !== `${bucket}/${name}`) {
    throw errors.invalidSignature("Invalid signature: token does not match this object");
  }
  return typeof claims.version === "string" ? { versionId: claims.version } : {};
}

export function verifyUpload(secret: string, token: string | null, bucket: string, name: string): UploadGrant {
  const claims = verify(secret, token);
  if (claims.scope !== "upload" || claims.url !== `${bucket}/${name}`) throw errors.invalidUploadSignature();
  return { bucket, name, owner: typeof claims.owner === "string" ? claims.owner : null, upsert: claims.upsert === true };
}
