// The S3 backend against a real S3-compatible server (s3rver on 127.0.0.1): the same API, bytes in
// the object store, nothing left behind by replaced, removed or aborted uploads.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
// @ts-expect-error -- s3rver ships no types
import S3rver from "s3rver";
import { TEST_DATA_DIR } from "./support/db.ts";
import { startStorageServer, type StorageTestServer } from "./support/storage.ts";
import { sweep } from "../src/storage/sweeper.ts";
import { createS3Backend } from "../src/storage/backends/s3.ts";
import { createLogger } from "../src/log.ts";

mkdirSync(TEST_DATA_DIR, { recursive: true });
const s3dir = await mkdtemp(join(TEST_DATA_DIR, "s3rver-"));
const s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: "plinth" }] });
const { port } = (await s3.run()) as { port: number };
afterAll(async () => {
  await s3.close();
  await rm(s3dir, { recursive: true, force: true });
});
const s3opts = {
  endpoint: `http://127.0.0.1:${port}`,
  bucket: "plinth",
  region: "us-east-1",
  accessKeyId: "S3RVER",
  secretAccessKey: "S3RVER",
  forcePathStyle: true,
};
const srv: StorageTestServer = await startStorageServer({ storage: { backend: "s3", s3: s3opts } });
const client = new Bun.S3Client({ ...s3opts, virtualHostedStyle: false });
const keys = async () => ((await client.list({ prefix: "objects/" })).contents ?? []).map((c) => c.key).sort();
const referenced = async () =>
  (await srv.database.db.sql<{ version: string }[]>`select version from storage.objects union select version from storage.object_versions`)
    .map((r) => `objects/${r.version.slice(0, 2)}/${r.version}`)
    .sort();
const auth = { Authorization: `Bearer ${srv.keys.service_role}` };

await srv.admin.storage.createBucket("s3b", { public: true, fileSizeLimit: "12mb" });
const f = srv.admin.storage.from("s3b");

describe("S3 backend", () => {
  test("upload, download, range, public URL, copy, upsert and remove keep the store exact", async () => {
    expect((await f.upload("a/hello.txt", "hello s3", { contentType: "text/plain" })).error).toBeNull();
    expect(await (await f.download("a/hello.txt")).data?.text()).toBe("hello s3");
    const part = await fetch(`${srv.url}/storage/v1/object/s3b/a/hello.txt`, { headers: { ...auth, Range: "bytes=6-7" } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("s3");
    expect(await (await fetch(f.getPublicUrl("a/hello.txt").data.publicUrl)).text()).toBe("hello s3");
    expect((await f.copy("a/hello.txt", "b/copy.txt")).error).toBeNull();
    expect(await (await f.download("b/copy.txt")).data?.text()).toBe("hello s3");
    expect((await f.upload("a/hello.txt", "replaced", { upsert: true })).error).toBeNull();
    expect(await (await f.download("a/hello.txt")).data?.text()).toBe("replaced");
    expect((await f.remove(["b/copy.txt"])).data?.length).toBe(1);
    expect(await keys()).toEqual(await referenced());
  });

  test("a 10 MB upload goes up in multipart parts and comes back intact", async () => {
    const big = new Uint8Array(10 * 1024 * 1024).map((_, i) => (i * 7) % 256);
    expect((await f.upload("big.bin", new Blob([big], { type: "application/octet-stream" }))).error).toBeNull();
    const got = new Uint8Array(await (await f.download("big.bin")).data!.arrayBuffer());
    expect(got.length).toBe(big.length);
    expect(Buffer.compare(got, big)).toBe(0);
  });

  test("an oversize upload is aborted and leaves nothing in the store", async () => {
    const before = await keys();
    const res = await fetch(`${srv.url}/storage/v1/object/s3b/too-big.bin`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/octet-stream" },
      body: new ReadableStream({
        pull(c) {
          c.enqueue(new Uint8Array(1024 * 1024));
        },
      }),
    });
    expect(await res.json()).toMatchObject({ statusCode: "413" });
    await Bun.sleep(100);
    expect(await keys()).toEqual(before);
  });

  test("TUS uploads are committed to S3; the sweeper removes orphans from S3", async () => {
    const meta = `bucketName ${btoa("s3b")},objectName ${btoa("tus.bin")}`;
    const tus = await fetch(`${srv.url}/storage/v1/upload/resumable`, {
      method: "POST",
      headers: { ...auth, "Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": meta, "Content-Type": "application/offset+octet-stream" },
      body: "12345",
    });
    expect(tus.status).toBe(201);
    expect(tus.headers.get("upload-offset")).toBe("5");
    expect(await (await f.download("tus.bin")).data?.text()).toBe("12345");

    const orphan = `objects/ab/ab${crypto.randomUUID().slice(2)}`;
    await client.write(orphan, "orphan");
    const backend = await createS3Backend({ ...s3opts, stagingDir: join(srv.storageDir, "staging") });
    const ctx = { db: srv.database.db, backend, secret: srv.secret, log: createLogger("silent"), globalFileSizeLimit: 1e12 };
    // Grace 0 (with a small margin for clock granularity): every unreferenced key is an orphan.
    await Bun.sleep(1100);
    const report = await sweep(ctx, 0);
    expect(report.orphans).toBe(1);
    expect(await keys()).toEqual(await referenced());
  });
});
