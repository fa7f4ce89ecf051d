// Storage through the real @supabase/supabase-js client: buckets, objects, listing, signing,
// policies for anon and two users, versions and search.
import { beforeAll, describe, expect, test } from "bun:test";
import { POLICIES_SQL, startStorageServer, type StorageTestServer } from "./support/storage.ts";

const srv: StorageTestServer = await startStorageServer();
await srv.database.db.sql.unsafe(POLICIES_SQL);
const ALICE = "11111111-1111-4111-8111-111111111111";
const BOB = "22222222-2222-4222-8222-222222222222";

describe("buckets", () => {
  test("create, get, list, update, refuse duplicates and bad names", async () => {
    const s = srv.admin.storage;
    expect((await s.createBucket("photos", { public: false, fileSizeLimit: "1kb", allowedMimeTypes: ["image/*"] })).data).toEqual({ name: "photos" });
    const dup = await s.createBucket("photos", { public: false });
    expect(dup.error?.message).toBe("The resource already exists");
    expect((dup.error as unknown as { statusCode: string }).statusCode).toBe("409");
    const bad = await s.createBucket("../etc", { public: false });
    expect(bad.error?.message).toBe("Bucket name invalid");
    const got = await s.getBucket("photos");
    expect(got.data).toMatchObject({ id: "photos", name: "photos", public: false, file_size_limit: 1000, allowed_mime_types: ["image/*"] });
    expect((await s.updateBucket("photos", { public: true, fileSizeLimit: 2048 })).data).toEqual({ message: "Successfully updated" });
    expect((await s.getBucket("photos")).data).toMatchObject({ public: true, file_size_limit: 2048 });
    const list = await s.listBuckets({ search: "phot" });
    expect(list.data?.map((b) => b.id)).toEqual(["photos"]);
    expect((await s.getBucket("nope")).error?.message).toBe("Bucket not found");
  });

  test("delete is refused while the bucket has objects; empty then delete", async () => {
    const s = srv.admin.storage;
    await s.createBucket("tmp", { public: false });
    await s.from("tmp").upload("a.txt", "x");
    const refused = await s.deleteBucket("tmp");
    expect(refused.error?.message).toBe("The bucket you tried to delete is not empty");
    // Supabase's wording (storage-js snapshots it), though Plinth has emptied the bucket already.
    expect((await s.emptyBucket("tmp")).data).toEqual({ message: "Empty bucket has been queued. Completion may take up to an hour." });
    expect((await s.from("tmp").list()).data).toEqual([]);
    expect((await s.deleteBucket("tmp")).data).toEqual({ message: "Successfully deleted" });
  });
});

describe("objects", () => {
  beforeAll(async () => {
    await srv.admin.storage.createBucket("docs", { public: false });
    await srv.admin.storage.createBucket("public-read", { public: true });
  });

  test("upload (multipart and raw), x-upsert, update, download with content type, info, exists", async () => {
    const f = srv.admin.storage.from("docs");
    const up = await f.upload("notes/a.json", new Blob(['{"a":1}'], { type: "application/json" }), { metadata: { tag: "x" }, cacheControl: "60" });
    expect(up.data).toMatchObject({ path: "notes/a.json", fullPath: "docs/notes/a.json" });
    expect(up.data?.id).toBeString();
    const again = await f.upload("notes/a.json", "other");
    expect(again.error?.message).toBe("The resource already exists");
    const upsert = await f.upload("notes/a.json", '{"a":2}', { upsert: true, contentType: "application/json" });
    expect(upsert.error).toBeNull();
    expect(upsert.data?.id).toBe(up.data!.id);
    const dl = await f.download("notes/a.json");
    expect(dl.data?.type).toStartWith("application/json"); // Bun adds ";charset=utf-8" to JSON blobs
    expect(await dl.data?.text()).toBe('{"a":2}');
    const updated = await f.update("notes/a.json", new Blob(["plain"], { type: "text/plain" }));
    expect(updated.error).toBeNull();
    expect(await (await f.download("notes/a.json")).data?.text()).toBe("plain");
    const info = await f.info("notes/a.json");
    expect(info.data).toMatchObject({ name: "notes/a.json", bucketId: "docs", size: 5, cacheControl: "max-age=3600" });
    expect(info.data?.contentType).toStartWith("text/plain"); // Bun labels text blobs ";charset=utf-8"
    expect((await f.exists("notes/a.json")).data).toBe(true);
    expect((await f.exists("notes/missing.json")).data).toBe(false);
    const missing = await f.download("notes/missing.json");
    expect((missing.error as unknown as { status: number }).status).toBe(400);
  });

  test("list with prefix, limit, offset, sortBy and search; list-v2 with cursor and folders", async () => {
    const f = srv.admin.storage.from("docs");
    for (const n of ["l/b.txt", "l/a.txt", "l/c.txt", "l/sub/x.txt", "l/sub/y.txt", "l/Apple.txt"]) await f.upload(n, n);
    const all = await f.list("l");
    expect(all.data?.map((o) => o.name)).toEqual(["Apple.txt", "a.txt", "b.txt", "c.txt", "sub"]);
    expect(all.data?.find((o) => o.name === "sub")?.id).toBeNull();
    expect(all.data?.find((o) => o.name === "a.txt")?.metadata).toMatchObject({ size: 7, mimetype: "text/plain;charset=UTF-8" });
    const page = await f.list("l", { limit: 2, offset: 1, sortBy: { column: "name", order: "desc" } });
    expect(page.data?.map((o) => o.name)).toEqual(["c.txt", "b.txt"]);
    const search = await f.list("l", { search: "a" });
    expect(search.data?.map((o) => o.name)).toEqual(["Apple.txt", "a.txt"]);
    const v2 = await f.listV2({ prefix: "l/", limit: 3, with_delimiter: true });
    expect(v2.data?.objects.map((o) => o.name)).toEqual(["l/Apple.txt", "l/a.txt", "l/b.txt"]);
    expect(v2.data?.hasNext).toBe(true);
    const rest = await f.listV2({ prefix: "l/", limit: 3, with_delimiter: true, cursor: v2.data!.nextCursor });
    expect(rest.data?.objects.map((o) => o.name)).toEqual(["l/c.txt"]);
    expect(rest.data?.folders).toEqual([{ name: "l/sub/", key: "l/sub" }]);
    expect(rest.data?.hasNext).toBe(false);
  });

  test("remove many, move and copy across buckets", async () => {
    const f = srv.admin.storage.from("docs");
    await f.upload("m/one.txt", "1");
    await f.upload("m/two.txt", "2");
    const moved = await f.move("m/one.txt", "m/uno.txt");
    expect(moved.data).toEqual({ message: "Successfully moved" });
    expect(await (await f.download("m/uno.txt")).data?.text()).toBe("1");
    expect((await f.exists("m/one.txt")).data).toBe(false);
    const copied = await f.copy("m/two.txt", "copies/two.txt", { destinationBucket: "public-read" });
    expect(copied.data).toEqual({ path: "public-read/copies/two.txt" });
    const movedAcross = await f.move("m/uno.txt", "moved/uno.txt", { destinationBucket: "public-read" });
    expect(movedAcross.error).toBeNull();
    const removed = await f.remove(["m/two.txt", "m/none.txt"]);
    expect(removed.data?.map((o) => o.name)).toEqual(["m/two.txt"]);
    expect((await srv.admin.storage.from("public-read").list("moved")).data?.map((o) => o.name)).toEqual(["uno.txt"]);
  });

  test("signed URLs (single and batch), signed upload URLs, public URLs only for public buckets", async () => {
    const f = srv.admin.storage.from("docs");
    await f.upload("s/secret.txt", "secret", { contentType: "text/plain" });
    const signed = await f.createSignedUrl("s/secret.txt", 60, { download: "x.txt" });
    const res = await fetch(signed.data!.signedUrl);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("secret");
    expect(res.headers.get("content-disposition")).toContain('filename="x.txt"');
    const tampered = await fetch(signed.data!.signedUrl.replace("secret.txt", "other.txt"));
    expect(tampered.status).toBe(400);
    const batch = await f.createSignedUrls(["s/secret.txt", "s/missing.txt"], 60);
    expect(batch.data?.[0]?.signedUrl).toContain("/object/sign/docs/s/secret.txt?token=");
    expect(batch.data?.[1]?.error).toBeString();
    expect((await fetch(batch.data![0]!.signedUrl!)).status).toBe(200);

    const upl = await f.createSignedUploadUrl("s/via-token.txt");
    const done = await srv.anon.storage.from("docs").uploadToSignedUrl("s/via-token.txt", upl.data!.token, "by token", { contentType: "text/plain" });
    expect(done.error).toBeNull();
    expect(await (await f.download("s/via-token.txt")).data?.text()).toBe("by token");
    const reused = await srv.anon.storage.from("docs").uploadToSignedUrl("s/via-token.txt", upl.data!.token, "again");
    expect(reused.error?.message).toBe("The resource already exists");

    const privateUrl = f.getPublicUrl("s/secret.txt").data.publicUrl;
    expect((await fetch(privateUrl)).status).toBe(400);
    await srv.admin.storage.from("public-read").upload("p.txt", "public!");
    const pub = await fetch(srv.admin.storage.from("public-read").getPublicUrl("p.txt").data.publicUrl);
    expect(await pub.text()).toBe("public!");
  });

  test("MIME types and size limits of the bucket", async () => {
    await srv.admin.storage.createBucket("images", { public: false, allowedMimeTypes: ["image/*", "application/pdf"], fileSizeLimit: 1000 });
    const f = srv.admin.storage.from("images");
    expect((await f.upload("a.png", new Blob([new Uint8Array(10)], { type: "image/png" }))).error).toBeNull();
    expect((await f.upload("b.pdf", new Blob(["%PDF"], { type: "application/pdf" }))).error).toBeNull();
    const wrong = await f.upload("c.txt", "text", { contentType: "text/plain" });
    expect(wrong.error?.message).toBe("mime type text/plain is not supported");
    const big = await f.upload("d.png", new Blob([new Uint8Array(1001)], { type: "image/png" }));
    expect((big.error as unknown as { statusCode: string }).statusCode).toBe("413");
    expect((await f.exists("d.png")).data).toBe(false);
  });
});

describe("policies", () => {
  beforeAll(async () => {
    await srv.admin.storage.createBucket("private", { public: false });
    await srv.admin.storage.from("public-read").upload("hello.txt", "hi");
  });

  test("anon: no key is 403 Invalid Compact JWS; the anon key reads only what policies allow", async () => {
    const res = await fetch(`${srv.url}/storage/v1/object/list/public-read`, { method: "POST", body: "{}" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ statusCode: "403", code: "AccessDenied", error: "Unauthorized", message: "Invalid Compact JWS" });
    const a = srv.anon.storage;
    expect(await (await a.from("public-read").download("hello.txt")).data?.text()).toBe("hi");
    expect((await a.from("private").list()).data).toEqual([]);
    const denied = await a.from("private").upload("x.txt", "x");
    expect(denied.error?.message).toBe("new row violates row-level security policy");
    expect((await a.listBuckets()).data).toEqual([]);
    expect((await a.createBucket("anon-bucket", { public: true })).error?.message).toBe("new row violates row-level security policy");
  });

  test("two users: each writes and reads only their own folder; owner is recorded", async () => {
    const alice = (await srv.userClient(ALICE)).storage.from("private");
    const bob = (await srv.userClient(BOB)).storage.from("private");
    expect((await alice.upload(`${ALICE}/a.txt`, "alice")).error).toBeNull();
    expect((await bob.upload(`${BOB}/b.txt`, "bob")).error).toBeNull();
    expect((await bob.upload(`${ALICE}/evil.txt`, "evil")).error?.message).toBe("new row violates row-level security policy");
    expect((await alice.upload(`${ALICE}/doc.pdf`, "pdf")).error?.message).toBe("new row violates row-level security policy");
    expect((await bob.download(`${ALICE}/a.txt`)).error).not.toBeNull();
    expect(await (await alice.download(`${ALICE}/a.txt`)).data?.text()).toBe("alice");
    expect((await alice.list(ALICE)).data?.map((o) => o.name)).toEqual(["a.txt"]);
    expect((await bob.list(ALICE)).data).toEqual([]);
    expect((await bob.remove([`${ALICE}/a.txt`])).data).toEqual([]);
    expect((await bob.createSignedUrl(`${ALICE}/a.txt`, 60)).error?.message).toBe("Object not found");
    const [row] = await srv.database.db.sql`select owner, owner_id from storage.objects where name = ${`${ALICE}/a.txt`}`;
    expect(row).toEqual({ owner: ALICE, owner_id: ALICE });
    expect((await alice.remove([`${ALICE}/a.txt`])).data?.length).toBe(1);
  });
});

describe("versions and search", () => {
  test("a versioned bucket keeps overwritten bytes; list, download and restore a version", async () => {
    await srv.admin.storage.createBucket("history", { public: false, versioningStatus: "ENABLED" });
    const f = srv.admin.storage.from("history");
    await f.upload("doc.txt", "v1");
    await f.upload("doc.txt", "v2", { upsert: true });
    await f.update("doc.txt", "v3");
    const headers = { Authorization: `Bearer ${srv.keys.service_role}`, apikey: srv.keys.service_role };
    const versions = (await (await fetch(`${srv.url}/storage/v1/object/versions/history/doc.txt`, { headers })).json()) as {
      version: string;
      is_latest: boolean;
    }[];
    expect(versions.length).toBe(3);
    expect(versions[0]!.is_latest).toBe(true);
    const first = versions[2]!.version;
    expect(await (await f.download("doc.txt", { versionId: first })).data?.text()).toBe("v1");
    expect((await f.info("doc.txt", { versionId: first })).data?.size).toBe(2);
    const restored = await fetch(`${srv.url}/storage/v1/object/versions/history/doc.txt`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ versionId: first }),
    });
    expect(restored.status).toBe(200);
    expect(await (await f.download("doc.txt")).data?.text()).toBe("v1");
    // Through the client too: copy a version onto its own name.
    const second = versions[1]!.version;
    expect((await f.copy("doc.txt", "doc.txt", { sourceVersionId: second })).error).toBeNull();
    expect(await (await f.download("doc.txt")).data?.text()).toBe("v2");
    // Removing a version of history, then the object (which is kept as history).
    expect((await f.remove([{ path: "doc.txt", versionId: first }])).error).toBeNull();
    await f.remove(["doc.txt"]);
    expect((await f.exists("doc.txt")).data).toBe(false);
    const after = (await (await fetch(`${srv.url}/storage/v1/object/versions/history/doc.txt`, { headers })).json()) as unknown[];
    expect(after.length).toBe(4);
    // Unversioned buckets keep nothing.
    await srv.admin.storage.from("docs").upload("nv.txt", "1");
    await srv.admin.storage.from("docs").upload("nv.txt", "2", { upsert: true });
    const [row] = await srv.database.db.sql`select count(*)::int as n from storage.object_versions where bucket_id = 'docs'`;
    expect(row?.n).toBe(0);
  });

  test("search by prefix, substring and metadata with paging", async () => {
    await srv.admin.storage.createBucket("searchable", { public: false });
    const f = srv.admin.storage.from("searchable");
    for (let i = 0; i < 5; i++) await f.upload(`reports/2024-${i}.csv`, "x", { metadata: { year: 2024, kind: i % 2 ? "odd" : "even" } });
    await f.upload("misc/report-draft.txt", "x", { metadata: { year: 2023 } });
    const search = async (body: object) => {
      const r = await fetch(`${srv.url}/storage/v1/object/search/searchable`, {
        method: "POST",
        headers: { Authorization: `Bearer ${srv.keys.service_role}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return ((await r.json()) as { name: string }[]).map((o) => o.name);
    };
    expect(await search({ prefix: "reports/", limit: 2, offset: 1 })).toEqual(["reports/2024-1.csv", "reports/2024-2.csv"]);
    expect(await search({ contains: "REPORT" })).toHaveLength(6);
    expect(await search({ contains: "draft" })).toEqual(["misc/report-draft.txt"]);
    expect(await search({ metadata: { kind: "odd" } })).toEqual(["reports/2024-1.csv", "reports/2024-3.csv"]);
  });
});

describe("compatibility with storage-js's own integration tests", () => {
  const headers = () => ({ Authorization: `Bearer ${srv.keys.service_role}`, apikey: srv.keys.service_role });
  const GET_FIELDS = ["allowed_mime_types", "created_at", "file_size_limit", "id", "name", "owner", "public", "updated_at"];
  const LIST_FIELDS = [...GET_FIELDS, "type"].sort();
  const EXTRA_FIELDS = [...LIST_FIELDS, "versioning_status"].sort();

  test("bucket: get and list answer exactly Supabase's fields; Plinth's extras only with X-Plinth-Extras", async () => {
    await srv.admin.storage.createBucket("shape", { public: false, versioningStatus: "ENABLED" });
    const got = await srv.admin.storage.getBucket("shape");
    expect(Object.keys(got.data!).sort()).toEqual(GET_FIELDS);
    expect(got.data).toMatchObject({ id: "shape", name: "shape", public: false, file_size_limit: null, allowed_mime_types: null });
    const raw = (await (await fetch(`${srv.url}/storage/v1/bucket/shape`, { headers: headers() })).json()) as object;
    expect(raw).not.toHaveProperty("owner_id");
    const list = await srv.admin.storage.listBuckets();
    expect(list.data!.length).toBeGreaterThan(0);
    for (const b of list.data!) expect(Object.keys(b).sort()).toEqual(LIST_FIELDS);
    const extra = (await (await fetch(`${srv.url}/storage/v1/bucket/shape`, { headers: { ...headers(), "X-Plinth-Extras": "true" } })).json()) as Record<
      string,
      unknown
    >;
    expect(Object.keys(extra).sort()).toEqual(EXTRA_FIELDS);
    expect(extra).toMatchObject({ type: "STANDARD", versioning_status: "ENABLED" });
    const extraList = (await (await fetch(`${srv.url}/storage/v1/bucket`, { headers: { ...headers(), "X-Plinth-Extras": "true" } })).json()) as object[];
    for (const b of extraList) expect(Object.keys(b).sort()).toEqual(EXTRA_FIELDS);
  });

  test("empty bucket answers Supabase's message and has emptied the bucket", async () => {
    await srv.admin.storage.createBucket("to-empty", { public: false });
    await srv.admin.storage.from("to-empty").upload("a/b.txt", "x");
    const res = await srv.admin.storage.emptyBucket("to-empty");
    expect(res.data).toEqual({ message: "Empty bucket has been queued. Completion may take up to an hour." });
    expect((await srv.admin.storage.from("to-empty").list("a")).data).toEqual([]);
    expect((await srv.admin.storage.deleteBucket("to-empty")).error).toBeNull();
  });

  test("object info: Supabase's fields, no updated_at", async () => {
    await srv.admin.storage.createBucket("infos", { public: false });
    const f = srv.admin.storage.from("infos");
    await f.upload("testpath/file.txt", "hello", { contentType: "text/plain" });
    const info = await f.info("testpath/file.txt");
    expect(info.error).toBeNull();
    expect(info.data).not.toHaveProperty("updatedAt");
    expect(info.data).toMatchObject({ bucketId: "infos", name: "testpath/file.txt", size: 5, metadata: {} });
    expect(info.data?.lastModified).toBeString();
    expect(info.data?.createdAt).toBeString();
    const raw = (await (await fetch(`${srv.url}/storage/v1/object/info/infos/testpath/file.txt`, { headers: headers() })).json()) as object;
    expect(Object.keys(raw).sort()).toEqual([
      "bucket_id",
      "cache_control",
      "content_type",
      "created_at",
      "etag",
      "id",
      "last_modified",
      "metadata",
      "name",
      "size",
      "version",
    ]);
  });

  test("list-v2 with_delimiter: a folder's key is its path without the trailing slash", async () => {
    await srv.admin.storage.createBucket("folders", { public: false });
    const f = srv.admin.storage.from("folders");
    await f.upload("testpath/file.txt", "x");
    await f.upload("testpath/deeper/file.txt", "x");
    const res = await f.listV2({ with_delimiter: true });
    expect(res.error).toBeNull();
    expect(res.data).toEqual({ hasNext: false, folders: [{ name: "testpath/", key: "testpath" }], objects: [] });
    const nested = await f.listV2({ prefix: "testpath/", with_delimiter: true });
    expect(nested.data?.folders).toEqual([{ name: "testpath/deeper/", key: "testpath/deeper" }]);
    expect(nested.data?.objects.map((o) => o.name)).toEqual(["testpath/file.txt"]);
  });

  describe("list-v2 sortBy and cursor paging", () => {
    // Uploaded in this order (created_at), then rewritten in another (updated_at).
    const created = ["zz", "bb", "xx", "ww", "cc", "aa", "yy", "oo"];
    const updated = ["cc", "oo", "zz", "aa", "ww", "bb", "yy", "xx"];
    const byName = created.slice().sort();
    beforeAll(async () => {
      await srv.admin.storage.createBucket("sorting", { public: false });
      const f = srv.admin.storage.from("sorting");
      for (const s of created) await f.upload(`testpath/file-${s}.txt`, s);
      for (const s of updated) await f.upload(`testpath/file-${s}.txt`, `${s}!`, { upsert: true });
    });

    /** Every page of a listing (limit 2), following nextCursor; the page count is checked too. */
    async function pages(options: {
      sortBy?: { column: "name" | "created_at" | "updated_at"; order?: "asc" | "desc" };
      with_delimiter?: boolean;
      prefix?: string;
    }) {
      const seen: string[][] = [];
      let cursor: string | undefined;
      for (;;) {
        const res = await srv.admin.storage.from("sorting").listV2({ prefix: "testpath/", limit: 2, ...options, ...(cursor ? { cursor } : {}) });
        expect(res.error).toBeNull();
        seen.push([...res.data!.folders.map((f) => f.name), ...res.data!.objects.map((o) => o.name)]);
        if (!res.data!.hasNext) break;
        cursor = res.data!.nextCursor;
        expect(cursor).toBeString();
        if (seen.length > 20) throw new Error("paging does not end");
      }
      return seen;
    }
    const names = (suffixes: string[]) => suffixes.map((s) => `testpath/file-${s}.txt`);
    const chunks = (xs: string[]) => Array.from({ length: Math.ceil(xs.length / 2) }, (_, i) => xs.slice(i * 2, i * 2 + 2));

    for (const delimited of [false, true]) {
      const cases: [string, { column: "name" | "created_at" | "updated_at"; order?: "asc" | "desc" } | undefined, string[]][] = [
        ["default (name asc)", undefined, byName],
        ["name asc", { column: "name", order: "asc" }, byName],
        ["name desc", { column: "name", order: "desc" }, byName.slice().reverse()],
        ["created_at asc", { column: "created_at", order: "asc" }, created],
        ["created_at desc", { column: "created_at", order: "desc" }, created.slice().reverse()],
        ["updated_at asc", { column: "updated_at" }, updated],
        ["updated_at desc", { column: "updated_at", order: "desc" }, updated.slice().reverse()],
      ];
      for (const [label, sortBy, expected] of cases) {
        test(`${label}${delimited ? ", with_delimiter" : ""}: four pages of two, in order`, async () => {
          expect(await pages({ ...(sortBy ? { sortBy } : {}), with_delimiter: delimited })).toEqual(chunks(names(expected)));
        });
      }
    }

    test("the cursor keeps its sort; a bad cursor is refused", async () => {
      const f = srv.admin.storage.from("sorting");
      const first = await f.listV2({ prefix: "testpath/", limit: 3, sortBy: { column: "created_at", order: "desc" } });
      const next = await f.listV2({ prefix: "testpath/", limit: 3, cursor: first.data!.nextCursor });
      expect(next.data?.objects.map((o) => o.name)).toEqual(names(created.slice().reverse().slice(3, 6)));
      for (const cursor of ["not-a-cursor", Buffer.from(JSON.stringify({ c: "created_at", o: "asc", v: "'; drop table x", n: "a" })).toString("base64url")]) {
        const bad = await f.listV2({ prefix: "testpath/", cursor });
        expect((bad.error as unknown as { statusCode: string }).statusCode).toBe("400");
      }
    });

    test("ties on the sort column break by name; folders sort by their oldest object", async () => {
      await srv.admin.storage.createBucket("ties", { public: false });
      const f = srv.admin.storage.from("ties");
      for (const n of ["d.txt", "b.txt", "c.txt", "a.txt", "dir/x.txt", "e.txt"]) await f.upload(n, n);
      // Same timestamps for every object but e.txt and the folder's one object.
      await srv.database.db
        .sql`update storage.objects set created_at = '2020-01-01T00:00:00.123456Z' where bucket_id = 'ties' and name in ('a.txt', 'b.txt', 'c.txt', 'd.txt')`;
      await srv.database.db.sql`update storage.objects set created_at = '2019-01-01T00:00:00Z' where bucket_id = 'ties' and name = 'dir/x.txt'`;
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const res = await f.listV2({ limit: 1, with_delimiter: true, sortBy: { column: "created_at", order: "asc" }, ...(cursor ? { cursor } : {}) });
        all.push(...res.data!.folders.map((x) => x.name), ...res.data!.objects.map((o) => o.name));
        cursor = res.data!.hasNext ? res.data!.nextCursor : undefined;
      } while (cursor && all.length < 20);
      expect(all).toEqual(["dir/", "a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]);
      const desc: string[] = [];
      do {
        const res = await f.listV2({ limit: 2, sortBy: { column: "created_at", order: "desc" }, ...(cursor ? { cursor } : {}) });
        desc.push(...res.data!.objects.map((o) => o.name));
        cursor = res.data!.hasNext ? res.data!.nextCursor : undefined;
      } while (cursor && desc.length < 20);
      expect(desc).toEqual(["e.txt", "d.txt", "c.txt", "b.txt", "a.txt", "dir/x.txt"]);
    });
  });
});
