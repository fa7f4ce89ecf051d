// Image transformations (/storage/v1/render/image) with real images made by sharp here: every input
// format (JPEG, PNG, WebP) to every output (origin, webp, avif, Accept-negotiated), the resize
// modes, limits and corrupt inputs answered with Supabase's codes, signed transform URLs and their
// tampering, RLS on the authenticated route, ETags, and the on-disk variant cache with its cap.
import { describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { tokenFor } from "./support/app.ts";
import { POLICIES_SQL, startStorageServer } from "./support/storage.ts";
import { signJwt } from "../src/lib/jwt.ts";
import { VariantCache } from "../src/storage/image/variant-cache.ts";
import { fromTokenString, imgproxyForm, parseTransform, toTokenString } from "../src/storage/image/options.ts";

const srv = await startStorageServer({
  storage: { imageTransformation: { maxSourceBytes: 3 * 1024 * 1024, maxSourcePixels: 30_000_000, maxDimension: 2000, cacheBytes: 64 * 1024 * 1024 } },
});
const KEY = srv.keys.service_role;
const auth = { Authorization: `Bearer ${KEY}` };
const base = `${srv.url}/storage/v1`;
await srv.database.db.sql.unsafe(POLICIES_SQL);
await srv.admin.storage.createBucket("pics", { public: true });
await srv.admin.storage.createBucket("private", { public: false });

/** A picture with detail (a gradient and shapes), so encoders have something to encode. */
async function picture(width: number, height: number, format: "jpeg" | "png" | "webp"): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g"><stop offset="0" stop-color="#204080"/><stop offset="1" stop-color="#f0a030"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/><circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 3}" fill="#30c060"/></svg>`;
  return sharp(Buffer.from(svg)).toFormat(format).toBuffer();
}

async function upload(bucket: string, name: string, body: Uint8Array | string, contentType: string) {
  // BodyInit: a Uint8Array is sent as its bytes.
  const res = await fetch(`${base}/object/${bucket}/${name}`, {
    method: "POST",
    headers: { ...auth, "content-type": contentType, "x-upsert": "true" },
    body: body as BodyInit,
  });
  expect(res.status).toBe(200);
}

async function decoded(res: Response) {
  const bytes = Buffer.from(await res.arrayBuffer());
  return sharp(bytes).metadata();
}

const jpeg = await picture(400, 300, "jpeg");
const png = await picture(400, 300, "png");
const webp = await picture(400, 300, "webp");
await upload("pics", "in/a.jpg", jpeg, "image/jpeg");
await upload("pics", "in/a.png", png, "image/png");
await upload("pics", "in/a.webp", webp, "image/webp");

describe("formats", () => {
  const inputs = [
    ["in/a.jpg", "jpeg"],
    ["in/a.png", "png"],
    ["in/a.webp", "webp"],
  ] as const;
  for (const [path, sourceFormat] of inputs) {
    test(`${sourceFormat} in: origin, webp and avif out`, async () => {
      for (const [format, want, mime] of [
        ["origin", sourceFormat, `image/${sourceFormat}`],
        ["webp", "webp", "image/webp"],
        ["avif", "heif", "image/avif"],
      ] as const) {
        const res = await fetch(`${base}/render/image/public/pics/${path}?width=100&format=${format}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe(mime);
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
        const meta = await decoded(res);
        expect(meta.format).toBe(want);
        if (want === "heif") expect(meta.compression).toBe("av1");
        expect(meta.width).toBe(100);
        expect(meta.height).toBe(75);
      }
    });
  }

  test("no format: WebP when Accept says so (Vary: Accept), the source's format otherwise", async () => {
    const asWebp = await fetch(`${base}/render/image/public/pics/in/a.jpg?width=50`, { headers: { accept: "image/avif,image/webp,*/*" } });
    expect(asWebp.headers.get("content-type")).toBe("image/webp");
    expect(asWebp.headers.get("vary")).toBe("Accept");
    expect((await decoded(asWebp)).format).toBe("webp");
    const plain = await fetch(`${base}/render/image/public/pics/in/a.jpg?width=50`, { headers: { accept: "*/*" } });
    expect(plain.headers.get("content-type")).toBe("image/jpeg");
    expect(plain.headers.get("etag")).not.toBe(asWebp.headers.get("etag"));
    const origin = await fetch(`${base}/render/image/public/pics/in/a.jpg?width=50&format=origin`, { headers: { accept: "image/webp" } });
    expect(origin.headers.get("content-type")).toBe("image/jpeg");
    expect(origin.headers.get("vary")).toBeNull();
  });
});

describe("resize", () => {
  test("cover crops, contain fits, fill stretches; no enlargement; quality changes the bytes", async () => {
    const size = async (q: string) => {
      const m = await decoded(await fetch(`${base}/render/image/public/pics/in/a.png?${q}`));
      return [m.width, m.height];
    };
    expect(await size("width=200&height=100&resize=cover")).toEqual([200, 100]);
    expect(await size("width=200&height=100&resize=contain")).toEqual([133, 100]);
    expect(await size("width=200&height=100&resize=fill")).toEqual([200, 100]);
    expect(await size("width=200&height=100")).toEqual([200, 100]);
    expect(await size("height=60")).toEqual([80, 60]);
    expect(await size("width=4000")).toEqual([400, 300]);
    const q30 = await fetch(`${base}/render/image/public/pics/in/a.jpg?width=300&quality=30`);
    const q95 = await fetch(`${base}/render/image/public/pics/in/a.jpg?width=300&quality=95`);
    expect(Number(q30.headers.get("content-length"))).toBeLessThan(Number(q95.headers.get("content-length")));
  });

  test("width and height are clamped to maxDimension", async () => {
    await upload(
      "pics",
      "wide.png",
      await sharp({ create: { width: 2600, height: 40, channels: 3, background: "#123456" } })
        .png()
        .toBuffer(),
      "image/png",
    );
    const m = await decoded(await fetch(`${base}/render/image/public/pics/wide.png?width=9999`));
    expect(m.width).toBe(2000);
  });

  test("bad parameters: 400 InvalidRequest before any work", async () => {
    for (const q of ["width=abc", "width=-1", "height=1.5", "quality=10", "quality=101", "resize=stretch", "format=gif", "format=jpeg"]) {
      const res = await fetch(`${base}/render/image/public/pics/in/a.jpg?${q}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { statusCode: string; code: string; message: string };
      expect(body.statusCode).toBe("400");
      expect(body.code).toBe("InvalidRequest");
      expect(body.message).toMatch(/^querystring\//);
    }
  });
});

describe("bad sources: codes, never a crash", () => {
  test("corrupt, truncated, not an image, SVG, too many bytes, too many pixels", async () => {
    await upload("pics", "bad/random.jpg", crypto.getRandomValues(new Uint8Array(5000)), "image/jpeg");
    await upload("pics", "bad/truncated.jpg", jpeg.subarray(0, Math.floor(jpeg.length / 2)), "image/jpeg");
    await upload("pics", "bad/text.png", "hello, not a picture", "image/png");
    await upload("pics", "bad/empty.png", new Uint8Array(0), "image/png");
    await upload(
      "pics",
      "bad/vector.svg",
      `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>`,
      "image/svg+xml",
    );
    const invalid = "The source image is invalid or unsupported for rendering";
    for (const name of ["random.jpg", "truncated.jpg", "text.png", "empty.png", "vector.svg"]) {
      const res = await fetch(`${base}/render/image/public/pics/bad/${name}?width=50`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ statusCode: "400", code: "InvalidRequest", error: "InvalidRequest", message: invalid });
    }
    // 4 MB of noise as PNG: over maxSourceBytes (3 MiB), refused from the recorded size.
    const noise = await sharp(Buffer.from(crypto.getRandomValues(new Uint8Array(1200 * 1200 * 3)).buffer), { raw: { width: 1200, height: 1200, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(noise.length).toBeGreaterThan(3 * 1024 * 1024);
    await upload("pics", "bad/heavy.png", noise, "image/png");
    const heavy = await fetch(`${base}/render/image/public/pics/bad/heavy.png?width=50`);
    expect(heavy.status).toBe(400);
    expect(((await heavy.json()) as { message: string }).message).toBe("The source image file is too large to process");
    // A decompression bomb: 8000 × 8000 of one colour is a few hundred KB of PNG, 64 MP decoded.
    const bomb = await sharp({ create: { width: 8000, height: 8000, channels: 3, background: "#000" } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    expect(bomb.length).toBeLessThan(3 * 1024 * 1024);
    await upload("pics", "bad/bomb.png", bomb, "image/png");
    const big = await fetch(`${base}/render/image/public/pics/bad/bomb.png?width=50`);
    expect(big.status).toBe(400);
    expect(((await big.json()) as { message: string }).message).toBe("The source image resolution is too large to process");
    // The server is still fine.
    expect((await fetch(`${base}/render/image/public/pics/in/a.jpg?width=20`)).status).toBe(200);
  });

  test("missing object and missing bucket answer like downloads", async () => {
    const missing = await fetch(`${base}/render/image/public/pics/none.jpg?width=20`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { code: string }).code).toBe("NoSuchKey");
    const nobucket = await fetch(`${base}/render/image/public/nope/a.jpg?width=20`);
    expect(((await nobucket.json()) as { code: string }).code).toBe("NoSuchBucket");
  });
});

describe("access", () => {
  const alice = "11111111-1111-4111-8111-111111111111";
  const bob = "22222222-2222-4222-8222-222222222222";
  test("public route needs a public bucket; authenticated route applies RLS", async () => {
    await upload("private", `${alice}/me.jpg`, jpeg, "image/jpeg");
    const pub = await fetch(`${base}/render/image/public/private/${alice}/me.jpg?width=50`);
    expect(((await pub.json()) as { code: string }).code).toBe("NoSuchBucket");
    const url = `${base}/render/image/authenticated/private/${alice}/me.jpg?width=50`;
    const own = await fetch(url, { headers: { Authorization: `Bearer ${await tokenFor({ sub: alice, role: "authenticated" })}` } });
    expect(own.status).toBe(200);
    expect((await decoded(own)).width).toBe(50);
    // Bob's policies do not show him Alice's folder: not found, even though the variant is cached.
    const other = await fetch(url, { headers: { Authorization: `Bearer ${await tokenFor({ sub: bob, role: "authenticated" })}` } });
    expect(other.status).toBe(400);
    expect(((await other.json()) as { code: string }).code).toBe("NoSuchKey");
    const anon = await fetch(url, { headers: { Authorization: `Bearer ${srv.keys.anon}` } });
    expect(((await anon.json()) as { code: string }).code).toBe("NoSuchKey");
    const nobody = await fetch(url);
    expect(((await nobody.json()) as { code: string }).code).toBe("AccessDenied");
  });

  test("supabase-js download({transform}) and getPublicUrl({transform})", async () => {
    const { data, error } = await srv.admin.storage.from("private").download(`${alice}/me.jpg`, { transform: { width: 64, height: 64 } });
    expect(error).toBeNull();
    expect(data!.type).toBe("image/jpeg");
    const m = await sharp(Buffer.from(await data!.arrayBuffer())).metadata();
    expect([m.width, m.height]).toEqual([64, 64]);
    const { data: pub } = srv.anon.storage.from("pics").getPublicUrl("in/a.png", { transform: { width: 40, format: "origin" } });
    expect(pub.publicUrl).toContain("/render/image/public/pics/in/a.png");
    const res = await fetch(pub.publicUrl);
    expect((await decoded(res)).width).toBe(40);
  });
});

describe("signed transform URLs", () => {
  test("the transform is signed: query edits are ignored, the token cannot be bent", async () => {
    const { data, error } = await srv.admin.storage.from("pics").createSignedUrl("in/a.jpg", 600, { transform: { width: 120, height: 120, quality: 60 } });
    expect(error).toBeNull();
    const url = new URL(data!.signedUrl);
    expect(url.pathname).toBe("/storage/v1/render/image/sign/pics/in/a.jpg");
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-transformations")).toBe("height:120,width:120,resizing_type:fill,quality:60");
    expect(res.headers.get("expires")).not.toBeNull();
    expect(res.headers.get("cache-control")).toBeNull();
    expect((await decoded(res)).width).toBe(120);

    // The holder adds width=400 and format=avif: the token's options still apply.
    const edited = new URL(url);
    edited.searchParams.set("width", "400");
    edited.searchParams.set("format", "avif");
    const same = await fetch(edited);
    expect(same.headers.get("content-type")).toBe("image/jpeg");
    expect((await decoded(same)).width).toBe(120);

    // The same token on /object/sign does not hand out the original.
    const original = await fetch(`${base}/object/sign/pics/in/a.jpg${url.search}`);
    expect(original.status).toBe(400);
    expect(((await original.json()) as { code: string }).code).toBe("InvalidSignature");

    // Another object's path with this token.
    const moved = await fetch(`${base}/render/image/sign/pics/in/a.png${url.search}`);
    expect(((await moved.json()) as { code: string }).code).toBe("InvalidSignature");

    // A token with other transformations, signed with the wrong secret; and a payload edited by hand.
    const token = url.searchParams.get("token")!;
    const now = Math.floor(Date.now() / 1000);
    const forged = await signJwt({ url: "pics/in/a.jpg", transformations: "width:2000", iat: now, exp: now + 600 }, "not-the-secret-not-the-secret-not-the-secret");
    const f = await fetch(`${base}/render/image/sign/pics/in/a.jpg?token=${forged}`);
    expect(((await f.json()) as { code: string }).code).toBe("InvalidSignature");
    const [h, p, s] = token.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    payload.transformations = "width:2000";
    const bent = `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
    const b = await fetch(`${base}/render/image/sign/pics/in/a.jpg?token=${bent}`);
    expect(((await b.json()) as { code: string }).code).toBe("InvalidSignature");

    // Expired.
    const old = await signJwt({ url: "pics/in/a.jpg", transformations: "width:10", iat: now - 100, exp: now - 10 }, srv.secret);
    const e = await fetch(`${base}/render/image/sign/pics/in/a.jpg?token=${old}`);
    expect(((await e.json()) as { code: string }).code).toBe("ExpiredToken");
  });

  test("without a transform the URL stays /object/sign and serves the original", async () => {
    const { data } = await srv.admin.storage.from("pics").createSignedUrl("in/a.jpg", 60, { transform: {} });
    expect(data!.signedUrl).toContain("/object/sign/pics/in/a.jpg");
    const res = await fetch(data!.signedUrl);
    expect(Buffer.from(await res.arrayBuffer()).equals(jpeg)).toBe(true);
  });

  test("a bad transform in createSignedUrl is refused", async () => {
    const res = await fetch(`${base}/object/sign/pics/in/a.jpg`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ expiresIn: 60, transform: { quality: 5 } }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("InvalidRequest");
  });
});

describe("caching", () => {
  test("ETag and 304, the object's cache-control, one file per variant, new variant after overwrite", async () => {
    await upload("pics", "cache/c.jpg", jpeg, "image/jpeg");
    const url = `${base}/render/image/public/pics/cache/c.jpg?width=77`;
    const first = await fetch(url);
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(first.headers.get("cache-control")).toBe("max-age=3600");
    expect(first.headers.get("last-modified")).not.toBeNull();
    expect((await fetch(url, { headers: { "if-none-match": etag } })).status).toBe(304);
    // Concurrent requests for one new variant: all served, rendered once.
    const before = await variantFiles();
    const many = await Promise.all(Array.from({ length: 8 }, () => fetch(`${base}/render/image/public/pics/cache/c.jpg?width=78`)));
    expect(many.map((r) => r.status)).toEqual(Array(8).fill(200));
    const bodies = await Promise.all(many.map(async (r) => Buffer.from(await r.arrayBuffer()).toString("base64")));
    expect(new Set(bodies).size).toBe(1);
    expect((await variantFiles()).length).toBe(before.length + 1);
    // Overwriting the object changes the version: the old variant is not served.
    await upload("pics", "cache/c.jpg", png, "image/png");
    const after = await fetch(url, { headers: { "if-none-match": etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get("content-type")).toBe("image/png");
  });

  async function variantFiles() {
    const dir = join(srv.storageDir, "cache", "render");
    const out: string[] = [];
    for (const fan of await readdir(dir)) if (fan !== "tmp") out.push(...(await readdir(join(dir, fan))));
    return out;
  }

  test("VariantCache: size cap, oldest written evicted first, index rebuilt from disk", async () => {
    const dir = join(srv.storageDir, "cache-unit");
    const cache = new VariantCache(dir, 250);
    const put = async (key: string, n: number) => {
      const tmp = cache.tempPath();
      await Bun.write(tmp, "x".repeat(n));
      await cache.put(key, "webp", tmp, n);
    };
    await put("aa00000000000001", 100);
    await put("bb00000000000002", 100);
    await put("cc00000000000003", 100);
    expect(await cache.get("aa00000000000001")).toBeNull();
    expect(await cache.get("bb00000000000002")).not.toBeNull();
    expect(cache.usage).toEqual({ bytes: 200, entries: 2, maxBytes: 250 });
    await Bun.sleep(20);
    await put("dd00000000000004", 100);
    expect(await cache.get("bb00000000000002")).toBeNull();
    const reopened = new VariantCache(dir, 250);
    expect(reopened.usage.entries).toBe(2);
    expect((await reopened.get("dd00000000000004"))?.format).toBe("webp");
  });
});

describe("options", () => {
  test("token form round-trips; imgproxy form is Supabase's header", () => {
    const o = parseTransform(new URLSearchParams("width=200&height=100&resize=contain&quality=70&format=webp&gravity=ce"));
    expect(toTokenString(o)).toBe("height:100,width:200,resize:contain,quality:70,format:webp");
    expect(fromTokenString(toTokenString(o))).toEqual(o);
    expect(imgproxyForm(o)).toBe("height:100,width:200,resizing_type:fit,quality:70,format:webp");
    expect(fromTokenString("height:200,width:200,resize:undefined,quality:60")).toEqual({ height: 200, width: 200, quality: 60 });
    expect(parseTransform(new URLSearchParams("width=0&height=0"))).toEqual({});
  });
});
