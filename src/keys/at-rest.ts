// Private signing keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the master
// secret, `auth.keysMasterSecret` (PLINTH_KEYS_MASTER_SECRET). Without one, development derives it
// from the JWT secret, so a laptop project needs no extra setting; production refuses to start
// without a separate master secret (src/config/production.ts): the HS256 secret is often copied to
// other services that verify tokens, and whoever holds a copy must not be able to decrypt the
// signing keys as well.
// The kid is bound as additional data, so a ciphertext moved to another row does not decrypt.
// Trap: changing the master secret makes stored keys unreadable; the ring then logs the kid and
// skips it for signing (tokens it signed stay verifiable: the public half is stored in clear).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export function masterKey(masterSecret: string | undefined, jwtSecret: string): Buffer {
  const ikm = masterSecret ?? jwtSecret;
  return Buffer.from(hkdfSync("sha256", ikm, "plinth-keys", masterSecret ? "signing-keys:v1" : "signing-keys:from-jwt-secret:v1", 32));
}

export function sealPrivateKey(key: Buffer, kid: string, privateJwk: object): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(`kid:${kid}`));
  const ct = Buffer.concat([c.update(JSON.stringify(privateJwk), "utf8"), c.final()]);
  return `v1:${Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64")}`;
}

/** The private JWK, or null when it does not decrypt under this key (another master secret). */
export function openPrivateKey(key: Buffer, kid: string, stored: string): Record<string, unknown> | null {
  if (!stored.startsWith("v1:")) return null;
  try {
    const raw = Buffer.from(stored.slice(3), "base64");
    const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(`kid:${kid}`));
    d.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8"));
  } catch {
    return null;
  }
}
