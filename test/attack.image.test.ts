// Attacks on image transformations that must keep failing to do harm: a flood of distinct variants
// (CPU exhaustion) meets a bounded queue and 429s, not an unbounded pile of renders; a
// decompression bomb is refused from its header; a document format (SVG referencing local files)
// is never rendered; traversal in the render path never leaves the bucket; a thumbnail's signed
// token never yields the original; a forged transform in a token is refused.
import { expect, test } from "bun:test";
import sharp from "sharp";
import { startStorageServer } from "./support/storage.ts";
import { signJwt } from "../src/lib/jwt.ts";

const srv = await startStorageServer({ storage: { imageTransformation: { concurrency: 1, maxSourcePixels: 20_000_000 } } });
const auth = { Authorization: `Bearer ${srv.keys.service_role}` };
const base = `${srv.url}/storage/v1`;
await srv.admin.storage.createBucket("img", { public: true });
const put = (name: string, body: BodyInit, type: string) =>
  fetch(`${base}/object/img/${name}`, { method: "POST", headers: { ...auth, "content-type": type, "x-upsert": "true" }, body });
const photo = await sharp({ create: { width: 1600, height: 1200, channels: 3, noise: { type: "gaussian", mean: 120, sigma: 40 }, background: "#777" } })
  .jpeg()
  .toBuffer();
await put("photo.jpg", photo, "image/jpeg");

test("a flood of distinct variants: bounded queue answers 429, the server stays up", async () => {
  const res = await Promise.all(Array.from({ length: 80 }, (_, i) => fetch(`${base}/render/image/public/img/photo.jpg?width=${100 + i}&format=avif`)));
  const statuses = res.map((r) => r.status);
  expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
  expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
  const limited = res.find((r) => r.status === 429)!;
  expect(limited.headers.get("retry-after")).toBe("1");
  expect((await fetch(`${base}/render/image/public/img/photo.jpg?width=50`)).status).toBe(200);
});

test("decompression bomb and SVG with file references are refused before rendering", async () => {
  const bomb = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: "#000" } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  await put("bomb.png", bomb, "image/png");
  const b = await fetch(`${base}/render/image/public/img/bomb.png?width=10`);
  expect(((await b.json()) as { message: string }).message).toBe("The source image resolution is too large to process");
  await put(
    "x.svg",
    `<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50"><image href="file:///etc/passwd" width="50" height="50"/></svg>`,
    "image/svg+xml",
  );
  const s = await fetch(`${base}/render/image/public/img/x.svg?width=10&format=webp`);
  expect(((await s.json()) as { message: string }).message).toBe("The source image is invalid or unsupported for rendering");
});

test("traversal in the render path stays inside storage", async () => {
  for (const path of ["img/../../../etc/passwd", "img/%2e%2e/%2e%2e/etc/passwd", "img/a%00.jpg"]) {
    const res = await fetch(`${base}/render/image/public/${path}?width=10`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string };
    // not_found: fetch normalised the dots away and the router answered; the others: storage refused the key.
    expect(["InvalidKey", "NoSuchKey", "NoSuchBucket", "not_found"]).toContain(body.code);
  }
});

test("a thumbnail's token never yields the original; forged transforms are refused", async () => {
  const { data } = await srv.admin.storage.from("img").createSignedUrl("photo.jpg", 60, { transform: { width: 32 } });
  const token = new URL(data!.signedUrl).searchParams.get("token")!;
  const original = await fetch(`${base}/object/sign/img/photo.jpg?token=${token}`);
  expect(((await original.json()) as { code: string }).code).toBe("InvalidSignature");
  const now = Math.floor(Date.now() / 1000);
  const noAlg = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(
    JSON.stringify({ url: "img/photo.jpg", transformations: "width:2000", iat: now, exp: now + 60 }),
  ).toString("base64url")}.`;
  const r = await fetch(`${base}/render/image/sign/img/photo.jpg?token=${noAlg}`);
  expect(((await r.json()) as { code: string }).code).toBe("InvalidSignature");
  // A token signed for another object cannot be pointed at this one.
  const other = await signJwt({ url: "img/bomb.png", transformations: "width:10", iat: now, exp: now + 60 }, srv.secret);
  const o = await fetch(`${base}/render/image/sign/img/photo.jpg?token=${other}`);
  expect(((await o.json()) as { code: string }).code).toBe("InvalidSignature");
});
