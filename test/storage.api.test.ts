// Storage over raw HTTP: ranges, ETags, TUS, and the ugly cases (traversal, MIME types, oversize
// bodies, concurrent writers, uploads killed mid-stream, bytes left by a crash).
import { describe, expect, test } from "bun:test";
import { readdir, utimes } from "node:fs/promises";
import { join } from "node:path";
import { tokenFor } from "./support/app.ts";
import { rawHttp, startStorageServer, type StorageTestServer } from "./support/storage.ts";
import { createLocalBackend } from "../src/storage/backends/local.ts";
import { versionKey } from "../src/storage/backends/backend.ts";
import { sweep } from "../src/storage/sweeper.ts";
import { createLogger } from "../src/log.ts";

const srv: StorageTestServer = await startStorageServer();
const KEY = srv.keys.service_role;
const auth = { Authorization: `Bearer ${KEY}` };
const base = `${srv.url}/storage/v1`;
const objectsDir = join(srv.storageDir, "objects");

await srv.admin.storage.createBucket("raw", { public: false });
await srv.admin.storage.createBucket("limited", { public: false, fileSizeLimit: 64 * 1024, allowedMimeTypes: ["image/*", "text/csv"] });

async function put(bucket: string, name: string, body: BodyInit, headers: Record<string, string> = {}) {
  return fetch(`${base}/object/${bucket}/${name}`, { method: "POST", headers: { ...auth, ...headers }, body });
}
const rows = async (bucket: string) =>
  (await srv.database.db.sql<{ name: string }[]>`select name from storage.objects where bucket_id = ${bucket} order by name`).map((r) => r.name);
/** Files in the backend that are complete objects, and temporaries. */
async function files() {
  const objects: string[] = [];
  for (const fan of await readdir(join(objectsDir, "objects")).catch(() => [] as string[])) {
    for (const f of await readdir(join(objectsDir, "objects", fan))) objects.push(f);
  }
  return { objects, tmp: await readdir(join(objectsDir, "tmp")) };
}
async function referenced() {
  return (await srv.database.db.sql<{ version: string }[]>`select version from storage.objects union select version from storage.object_versions`)
    .map((r) => r.version)
    .sort();
}

describe("downloads", () => {
  test("Range, HEAD, ETag / If-None-Match, ?download, error shape", async () => {
    const body = "0123456789abcdefghij";
    expect((await put("raw", "r/range.txt", body, { "content-type": "text/plain" })).status).toBe(200);
    const url = `${base}/object/raw/r/range.txt`;
    const part = await fetch(url, { headers: { ...auth, Range: "bytes=2-5" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 2-5/20");
    expect(await part.text()).toBe("2345");
    expect(await (await fetch(url, { headers: { ...auth, Range: "bytes=-3" } })).text()).toBe("hij");
    expect(await (await fetch(url, { headers: { ...auth, Range: "bytes=15-" } })).text()).toBe("fghij");
    const bad = await fetch(url, { headers: { ...auth, Range: "bytes=30-40" } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe("bytes */20");

    const head = await fetch(url, { method: "HEAD", headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("20");
    const etag = head.headers.get("etag")!;
    expect(etag).toBe(`"${new Bun.CryptoHasher("md5").update(body).digest("hex")}"`);
    expect((await fetch(url, { headers: { ...auth, "If-None-Match": etag } })).status).toBe(304);
    expect((await fetch(url, { headers: { ...auth, "If-None-Match": '"other"' } })).status).toBe(200);

    const dl = await fetch(`${url}?download=report%20final.txt`, { headers: auth });
    expect(dl.headers.get("content-disposition")).toBe(`attachment; filename="report final.txt"; filename*=UTF-8''report%20final.txt`);

    const missing = await fetch(`${base}/object/raw/r/none.txt`, { headers: auth });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ statusCode: "404", code: "NoSuchKey", error: "not_found", message: "Object not found" });
  });
});

describe("ugly cases", () => {
  test("traversal attempts never leave the storage directory and never create rows", async () => {
    const attempts = [
      "/storage/v1/object/raw/../../../../tmp/pwned.txt",
      "/storage/v1/object/raw/%2e%2e/%2e%2e/pwned.txt",
      "/storage/v1/object/raw/a/..%2f..%2fpwned.txt",
      "/storage/v1/object/raw/a/%2e%2e%5cpwned.txt",
      "/storage/v1/object/raw/a%00b.txt",
      "/storage/v1/object/raw//etc/pwned.txt",
      "/storage/v1/object/raw/%2fetc%2fpwned.txt",
      "/storage/v1/object/%2e%2e/pwned.txt",
      "/storage/v1/object/raw/a/.%2fpwned.txt",
    ];
    for (const path of attempts) {
      const res = await rawHttp(
        srv.url,
        `POST ${path} HTTP/1.1\nHost: localhost\nAuthorization: Bearer ${KEY}\nContent-Type: text/plain\nContent-Length: 5\nConnection: close\n`,
        "pwned",
      );
      const status = Number(res.split(" ")[1]);
      expect(status === 400 || status === 404).toBe(true);
      if (status === 400) expect(res).toMatch(/"statusCode":"(400|404)"/);
    }
    expect((await rows("raw")).filter((n) => n.includes("pwned"))).toEqual([]);
    expect(await Bun.file("/tmp/pwned.txt").exists()).toBe(false);
    // Through the client API too: names are validated before anything is written.
    for (const name of ["../x.txt", "a/../../x.txt", "nul\u0000.txt", "tilde~.txt", "a/..%2fb"]) {
      const r = await srv.admin.storage.from("raw").upload(name, "x");
      expect(r.error).not.toBeNull();
    }
  });

  test("MIME types against allowed_mime_types, including wildcards", async () => {
    const ok = ["image/png", "image/svg+xml", "text/csv", "IMAGE/JPEG", "text/csv; charset=utf-8"];
    for (const [i, type] of ok.entries()) expect((await put("limited", `ok${i}`, "x", { "content-type": type })).status).toBe(200);
    for (const type of ["text/plain", "imagex/png", "application/octet-stream", "text/csv2"]) {
      const res = await put("limited", "bad", "x", { "content-type": type });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ statusCode: "415", code: "InvalidMimeType" });
    }
    // A multipart file part's own type is what counts.
    const form = new FormData();
    form.append("", new Blob(["x"], { type: "application/x-msdownload" }), "evil.exe");
    const res = await fetch(`${base}/object/limited/evil.exe`, { method: "POST", headers: auth, body: form });
    expect(await res.json()).toMatchObject({ statusCode: "415" });
  });

  test("oversize bodies: declared, streamed without a length, and multipart", async () => {
    const before = await files();
    const declared = await put("limited", "big.png", new Uint8Array(64 * 1024 + 1), { "content-type": "image/png" });
    expect(await declared.json()).toMatchObject({ statusCode: "413", code: "EntityTooLarge" });
    // No Content-Length: the limit is enforced while streaming.
    const stream = new ReadableStream({
      pull(c) {
        c.enqueue(new Uint8Array(16 * 1024));
      },
    });
    const chunked = await fetch(`${base}/object/limited/stream.png`, { method: "POST", headers: { ...auth, "content-type": "image/png" }, body: stream });
    expect(await chunked.json()).toMatchObject({ statusCode: "413" });
    const form = new FormData();
    form.append("", new Blob([new Uint8Array(70 * 1024)], { type: "image/png" }));
    const multipart = await fetch(`${base}/object/limited/form.png`, { method: "POST", headers: auth, body: form });
    expect(await multipart.json()).toMatchObject({ statusCode: "413" });
    expect((await rows("limited")).filter((n) => n.endsWith(".png") && n !== "ok0")).toEqual([]);
    const after = await files();
    expect(after.objects.length).toBe(before.objects.length);
    expect(after.tmp).toEqual([]);
  });

  test("concurrent uploads of one path: exactly one wins without x-upsert, never torn bytes", async () => {
    const size = 512 * 1024;
    const bodies = Array.from({ length: 8 }, (_, i) => new Uint8Array(size).fill(65 + i));
    const results = await Promise.all(bodies.map((b) => put("raw", "race.bin", b, { "content-type": "application/octet-stream" })));
    const statuses = await Promise.all(results.map(async (r) => (r.status === 200 ? 200 : ((await r.json()) as { statusCode: string }).statusCode)));
    expect(statuses.filter((s) => s === 200).length).toBe(1);
    expect(statuses.filter((s) => s === "409").length).toBe(7);
    const winner = bodies[statuses.indexOf(200)]!;
    const got = new Uint8Array(await (await fetch(`${base}/object/raw/race.bin`, { headers: auth })).arrayBuffer());
    expect(got.length).toBe(size);
    expect(got.every((b) => b === winner[0])).toBe(true);

    const upserts = await Promise.all(bodies.map((b) => put("raw", "race-upsert.bin", b, { "x-upsert": "true" })));
    expect(upserts.every((r) => r.status === 200)).toBe(true);
    const final = new Uint8Array(await (await fetch(`${base}/object/raw/race-upsert.bin`, { headers: auth })).arrayBuffer());
    expect(final.length).toBe(size);
    expect(final.every((b) => b === final[0])).toBe(true);
    // Every loser's bytes are gone: the backend holds exactly the referenced versions.
    expect((await files()).objects.sort()).toEqual(await referenced());
  });

  test("an upload killed mid-stream leaves no row and no visible or temporary bytes", async () => {
    const before = await files();
    const head = `POST /storage/v1/object/raw/killed.bin HTTP/1.1\nHost: localhost\nAuthorization: Bearer ${KEY}\nContent-Type: application/octet-stream\nContent-Length: ${10 * 1024 * 1024}\n`;
    await rawHttp(srv.url, head, new Uint8Array(1024 * 1024), { abortAfterMs: 100 });
    await Bun.sleep(200);
    expect(await rows("raw")).not.toContain("killed.bin");
    const after = await files();
    expect(after.objects.length).toBe(before.objects.length);
    expect(after.tmp).toEqual([]);
  });

  test("after a crash between bytes and row, the sweeper removes the orphan bytes (and nothing else)", async () => {
    const backend = await createLocalBackend(objectsDir);
    const orphan = crypto.randomUUID();
    await backend.write(
      versionKey(orphan),
      (async function* () {
        yield new TextEncoder().encode("orphan");
      })(),
      "text/plain",
    );
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(objectsDir, versionKey(orphan)), old, old);
    for (const v of await referenced()) await utimes(join(objectsDir, versionKey(v)), old, old);
    const ctx = { db: srv.database.db, backend, secret: srv.secret, log: createLogger("silent"), globalFileSizeLimit: 1e12 };
    const report = await sweep(ctx, 3600_000);
    expect(report.orphans).toBe(1);
    expect((await files()).objects.sort()).toEqual(await referenced());
  });
});

describe("TUS resumable uploads", () => {
  const tus = `${base}/upload/resumable`;
  const meta = (m: Record<string, string>) =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${Buffer.from(v).toString("base64")}`)
      .join(",");
  const tusHeaders = { ...auth, "Tus-Resumable": "1.0.0" };

  test("OPTIONS, POST, PATCH in pieces, HEAD, wrong offset, completion", async () => {
    const opts = await fetch(tus, { method: "OPTIONS" });
    expect(opts.status).toBe(204);
    expect(opts.headers.get("tus-version")).toBe("1.0.0");
    expect(opts.headers.get("tus-extension")).toContain("creation");

    const data = new Uint8Array(300 * 1024).map((_, i) => i % 251);
    const created = await fetch(tus, {
      method: "POST",
      headers: {
        ...tusHeaders,
        "Upload-Length": String(data.length),
        "Upload-Metadata": meta({ bucketName: "raw", objectName: "tus/file.bin", contentType: "application/x-test", metadata: '{"k":"v"}' }),
      },
    });
    expect(created.status).toBe(201);
    const location = created.headers.get("location")!;
    expect(location).toStartWith(`${tus}/`);
    const patch = (offset: number, chunk: Uint8Array<ArrayBuffer>) =>
      fetch(location, {
        method: "PATCH",
        headers: { ...tusHeaders, "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" },
        body: chunk,
      });
    const p1 = await patch(0, data.slice(0, 100 * 1024));
    expect(p1.status).toBe(204);
    expect(p1.headers.get("upload-offset")).toBe(String(100 * 1024));
    expect((await patch(5, data.slice(5, 10))).status).toBe(409);
    const h = await fetch(location, { method: "HEAD", headers: tusHeaders });
    expect(h.headers.get("upload-offset")).toBe(String(100 * 1024));
    expect(h.headers.get("upload-length")).toBe(String(data.length));
    // Nothing is visible before the last byte.
    expect(await rows("raw")).not.toContain("tus/file.bin");
    const p2 = await patch(100 * 1024, data.slice(100 * 1024));
    expect(p2.status).toBe(204);
    expect(p2.headers.get("upload-offset")).toBe(String(data.length));
    const dl = await fetch(`${base}/object/raw/tus/file.bin`, { headers: auth });
    expect(dl.headers.get("content-type")).toBe("application/x-test");
    expect(new Uint8Array(await dl.arrayBuffer())).toEqual(data);
    const info = await srv.admin.storage.from("raw").info("tus/file.bin");
    expect(info.data?.metadata as unknown).toEqual({ k: "v" });
    expect((await fetch(location, { method: "HEAD", headers: tusHeaders })).status).toBe(404);
  });

  test("resume after a broken PATCH; termination; refusals before any byte", async () => {
    const total = 2 * 1024 * 1024;
    const created = await fetch(tus, {
      method: "POST",
      headers: { ...tusHeaders, "Upload-Length": String(total), "Upload-Metadata": meta({ bucketName: "raw", objectName: "tus/resumed.bin" }) },
    });
    const location = created.headers.get("location")!;
    const path = new URL(location).pathname;
    await rawHttp(
      srv.url,
      `PATCH ${path} HTTP/1.1\nHost: localhost\nAuthorization: Bearer ${KEY}\nTus-Resumable: 1.0.0\nUpload-Offset: 0\nContent-Type: application/offset+octet-stream\nContent-Length: ${total}\n`,
      new Uint8Array(512 * 1024).fill(7),
      { abortAfterMs: 300 },
    );
    await Bun.sleep(100);
    const offset = Number((await fetch(location, { method: "HEAD", headers: tusHeaders })).headers.get("upload-offset"));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(512 * 1024);
    const rest = await fetch(location, {
      method: "PATCH",
      headers: { ...tusHeaders, "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" },
      body: new Uint8Array(total - offset).fill(7),
    });
    expect(rest.status).toBe(204);
    const got = new Uint8Array(await (await fetch(`${base}/object/raw/tus/resumed.bin`, { headers: auth })).arrayBuffer());
    expect(got.length).toBe(total);
    expect(got.every((b) => b === 7)).toBe(true);

    const doomed = await fetch(tus, {
      method: "POST",
      headers: { ...tusHeaders, "Upload-Length": "10", "Upload-Metadata": meta({ bucketName: "raw", objectName: "tus/doomed" }) },
    });
    const doomedUrl = doomed.headers.get("location")!;
    expect((await fetch(doomedUrl, { method: "DELETE", headers: tusHeaders })).status).toBe(204);
    expect((await fetch(doomedUrl, { method: "HEAD", headers: tusHeaders })).status).toBe(404);

    const tooBig = await fetch(tus, {
      method: "POST",
      headers: {
        ...tusHeaders,
        "Upload-Length": String(1024 * 1024),
        "Upload-Metadata": meta({ bucketName: "limited", objectName: "x.png", contentType: "image/png" }),
      },
    });
    expect(await tooBig.json()).toMatchObject({ statusCode: "413" });
    const anon = await fetch(tus, {
      method: "POST",
      headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "1", "Upload-Metadata": meta({ bucketName: "raw", objectName: "a" }) },
    });
    expect(await anon.json()).toMatchObject({ statusCode: "403", message: "Invalid Compact JWS" });
    const user = await tokenFor({ sub: "33333333-3333-4333-8333-333333333333", role: "authenticated" });
    const denied = await fetch(tus, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${user}`,
        "Tus-Resumable": "1.0.0",
        "Upload-Length": "1000000",
        "Upload-Metadata": meta({ bucketName: "raw", objectName: "a" }),
      },
    });
    expect(await denied.json()).toMatchObject({ statusCode: "403", message: "new row violates row-level security policy" });
    expect((await fetch(doomedUrl, { method: "PATCH", headers: { ...auth, "Upload-Offset": "0" } })).status).toBe(412);
  });
});
