// Attack suite, storage: a multi-tenant app as Supabase's docs set one up — private buckets where
// each signed-in user owns the folder named after their id (`(storage.foldername(name))[1] =
// auth.uid()::text`), one of them with allowed_mime_types, a versioned one, a public one — and three
// callers: user A, user B and the anon key alone. Every way the API offers to reach A's objects is
// tried as B and as anon; each must leave A's objects exactly as they were (bytes, version, owner),
// and A must keep working. Issue 11 items 1, 8 and 9 and the content-safety headers are each
// attacked as reported. Later work keeps this green.
import { describe, expect, test } from "bun:test";
import { signJwt } from "../src/lib/jwt.ts";
import { isPassiveType } from "../src/storage/content-safety.ts";
import { tokenFor } from "./support/app.ts";
import { startStorageServer, type StorageTestServer } from "./support/storage.ts";

const srv: StorageTestServer = await startStorageServer();
const sql = srv.database.db.sql;
const base = `${srv.url}/storage/v1`;
const A = "00000000-0000-4000-8000-00000000000a";
const B = "00000000-0000-4000-8000-00000000000b";

await sql.unsafe(`
  create table public.frozen_uploaders (uid uuid primary key);
  grant select on public.frozen_uploaders to anon, authenticated;
  create policy "folder select" on storage.objects for select to authenticated
    using (bucket_id in ('private', 'typed', 'history') and (storage.foldername(name))[1] = auth.uid()::text);
  create policy "folder insert" on storage.objects for insert to authenticated
    with check (bucket_id in ('private', 'typed', 'history') and (storage.foldername(name))[1] = auth.uid()::text);
  create policy "folder update" on storage.objects for update to authenticated
    using (bucket_id in ('private', 'typed', 'history') and (storage.foldername(name))[1] = auth.uid()::text);
  create policy "folder delete" on storage.objects for delete to authenticated
    using (bucket_id in ('private', 'typed', 'history') and (storage.foldername(name))[1] = auth.uid()::text);
  -- An app-side switch that stops a user's uploads: shows policies are judged at upload time too.
  create policy "not frozen insert" on storage.objects as restrictive for insert to authenticated
    with check (not exists (select 1 from public.frozen_uploaders f where f.uid = auth.uid()));
  create policy "not frozen update" on storage.objects as restrictive for update to authenticated
    using (not exists (select 1 from public.frozen_uploaders f where f.uid = auth.uid()));
`);
await srv.admin.storage.createBucket("private", { public: false });
await srv.admin.storage.createBucket("typed", { public: false, allowedMimeTypes: ["text/plain", "image/png"] });
await srv.admin.storage.createBucket("history", { public: false, versioningStatus: "ENABLED" });
await srv.admin.storage.createBucket("pub", { public: true });
await srv.admin.storage.createBucket("hidden", { public: false });
await srv.admin.storage.from("hidden").upload("x.txt", "x");

const callers = {
  anon: { apikey: srv.keys.anon, authorization: `Bearer ${srv.keys.anon}` },
  A: { apikey: srv.keys.anon, authorization: `Bearer ${await tokenFor({ sub: A, role: "authenticated" })}` },
  B: { apikey: srv.keys.anon, authorization: `Bearer ${await tokenFor({ sub: B, role: "authenticated" })}` },
} as const;
type Who = keyof typeof callers;
const folderOf = (who: Who) => (who === "A" ? A : who === "B" ? B : "anon");

function api(who: Who | null, method: string, path: string, init: { body?: BodyInit; json?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(who ? callers[who] : {}), ...(init.headers ?? {}) };
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  return fetch(`${base}${path}`, { method, headers, body });
}

/** Everything that would show an object was touched: its row and its bytes. */
async function stateOf(bucket: string, name: string) {
  const [row] = await sql<{ owner: string | null; owner_id: string | null; version: string; etag: string }[]>`
    select owner::text, owner_id, version, metadata->>'eTag' as etag from storage.objects where bucket_id = ${bucket} and name = ${name}`;
  if (!row) return null;
  const res = await fetch(`${base}/object/${bucket}/${name}`, { headers: { authorization: `Bearer ${srv.keys.service_role}` } });
  return { ...row, bytes: Buffer.from(await res.arrayBuffer()).toString("base64") };
}
const exists = async (bucket: string, name: string) => (await sql`select 1 from storage.objects where bucket_id = ${bucket} and name = ${name}`).length > 0;

/** Storage's error wire shape: HTTP 400 (or the real status) with {statusCode, code, error, message}. */
async function expectStorageError(res: Response, statusCode: string, code?: string) {
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(["code", "error", "message", "statusCode"]);
  expect(body.statusCode).toBe(statusCode);
  if (code) expect(body.code).toBe(code);
  return body;
}

async function uploadAs(who: Who, bucket: string, name: string, content: string, type = "text/plain", upsert = false) {
  const res = await api(who, "POST", `/object/${bucket}/${name}`, {
    body: content,
    headers: { "content-type": type, ...(upsert ? { "x-upsert": "true" } : {}) },
  });
  expect(res.status).toBe(200);
}

const SECRET = `${A}/secret.txt`;
await uploadAs("A", "private", SECRET, "A's private secret");
await uploadAs("A", "typed", SECRET, "A's typed secret");
const pristine = { private: await stateOf("private", SECRET), typed: await stateOf("typed", SECRET) };

describe("item 1: signed upload URLs into A's folder", () => {
  for (const who of ["anon", "B"] as const) {
    for (const bucket of ["private", "typed"] as const) {
      for (const upsert of [true, false]) {
        for (const type of ["text/plain", "application/pdf"]) {
          for (const target of [SECRET, `${A}/planted.txt`]) {
            test(`${who} signs ${bucket}/${target === SECRET ? "A's secret" : "a new name in A's folder"}${upsert ? " with x-upsert" : ""}, PUTs ${type}`, async () => {
              const signed = await api(who, "POST", `/object/upload/sign/${bucket}/${target}`, {
                headers: { "content-type": type, ...(upsert ? { "x-upsert": "true" } : {}) },
              });
              const text = await signed.text();
              // As reported: the URL the server answered, then the PUT to it.
              if (signed.status === 200) {
                const { url } = JSON.parse(text) as { url: string };
                await fetch(`${base}${url}`, { method: "PUT", headers: { ...callers[who], "content-type": type, "x-upsert": "true" }, body: "pwned" });
              }
              expect(signed.status).toBe(400);
              expect(JSON.parse(text)).toMatchObject({ statusCode: "403", code: "AccessDenied" });
              expect(await stateOf(bucket, SECRET)).toEqual(pristine[bucket]);
              expect(await exists(bucket, `${A}/planted.txt`)).toBe(false);
            });
          }
        }
      }
    }
  }

  test("a URL A signed for one path writes no other path, bucket or mode", async () => {
    const signed = (await (await api("A", "POST", `/object/upload/sign/private/${A}/x.txt`)).json()) as { token: string };
    for (const path of [`private/${SECRET}`, `private/${B}/x.txt`, `typed/${A}/x.txt`, `private/${A}/x.txt/../secret.txt`, `private/${A}/X.txt`]) {
      const res = await fetch(`${base}/object/upload/sign/${path}?token=${signed.token}`, {
        method: "PUT",
        headers: { ...callers.B, "content-type": "text/plain" },
        body: "pwned",
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { statusCode: string }).statusCode).toMatch(/^40[03]$/);
    }
    // A token whose claims were edited (path swapped, signature kept) is refused.
    const [h, p, s] = signed.token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const swapped = Buffer.from(JSON.stringify({ ...claims, url: `private/${SECRET}` })).toString("base64url");
    const forged = await fetch(`${base}/object/upload/sign/private/${SECRET}?token=${h}.${swapped}.${s}`, {
      method: "PUT",
      headers: { "content-type": "text/plain", ...callers.anon },
      body: "pwned",
    });
    await expectStorageError(forged, "400", "InvalidSignature");
    expect(await stateOf("private", SECRET)).toEqual(pristine.private);
    expect(await exists("private", `${B}/x.txt`)).toBe(false);
    expect(await exists("typed", `${A}/x.txt`)).toBe(false);

    // Without x-upsert at signing, the URL creates once; an x-upsert header on the PUT changes nothing.
    const url = `${base}/object/upload/sign/private/${A}/x.txt?token=${signed.token}`;
    expect((await fetch(url, { method: "PUT", headers: { ...callers.anon, "content-type": "text/plain" }, body: "first" })).status).toBe(200);
    const again = await fetch(url, { method: "PUT", headers: { ...callers.anon, "content-type": "text/plain", "x-upsert": "true" }, body: "second" });
    await expectStorageError(again, "409");
    expect((await stateOf("private", `${A}/x.txt`))?.bytes).toBe(Buffer.from("first").toString("base64"));
  });

  test("an upload through A's URL runs as A: owner is A whoever sends it, and A's policies decide again", async () => {
    for (const who of ["anon", "B"] as const) {
      const name = `${A}/via-token-${who}.txt`;
      const { token } = (await (await api("A", "POST", `/object/upload/sign/private/${name}`)).json()) as { token: string };
      const res = await fetch(`${base}/object/upload/sign/private/${name}?token=${token}`, {
        method: "PUT",
        headers: { ...callers[who], "content-type": "text/plain" },
        body: `sent by ${who}`,
      });
      expect(res.status).toBe(200);
      const [row] = await sql`select owner::text, owner_id from storage.objects where bucket_id = 'private' and name = ${name}`;
      expect(row).toEqual({ owner: A, owner_id: A });
    }
    // A signs, is then frozen by the app: the URL stops working, it does not fall back to the server's rights.
    const later = `${A}/later.txt`;
    const { token } = (await (await api("A", "POST", `/object/upload/sign/private/${later}`, { headers: { "x-upsert": "true" } })).json()) as { token: string };
    await sql`insert into public.frozen_uploaders values (${A})`;
    try {
      const res = await fetch(`${base}/object/upload/sign/private/${later}?token=${token}`, {
        method: "PUT",
        headers: { ...callers.anon, "content-type": "text/plain" },
        body: "late",
      });
      await expectStorageError(res, "403", "AccessDenied");
      expect(await exists("private", later)).toBe(false);
    } finally {
      await sql`delete from public.frozen_uploaders where uid = ${A}`;
    }
    // The bucket's MIME list still applies to an upload through a URL.
    const typed = (await (await api("A", "POST", `/object/upload/sign/typed/${A}/t.txt`)).json()) as { token: string };
    const pdf = await fetch(`${base}/object/upload/sign/typed/${A}/t.txt?token=${typed.token}`, {
      method: "PUT",
      headers: { ...callers.anon, "content-type": "application/pdf" },
      body: "%PDF",
    });
    await expectStorageError(pdf, "415", "InvalidMimeType");
    const txt = await fetch(`${base}/object/upload/sign/typed/${A}/t.txt?token=${typed.token}`, {
      method: "PUT",
      headers: { ...callers.anon, "content-type": "text/plain" },
      body: "ok",
    });
    expect(txt.status).toBe(200);
  });

  test("an upload token as issued before signers were recorded (owner, no signer) is refused", async () => {
    const iat = Math.floor(Date.now() / 1000);
    const old = await signJwt({ url: `private/${SECRET}`, owner: A, upsert: true, scope: "upload", iat, exp: iat + 600 }, srv.secret);
    const res = await fetch(`${base}/object/upload/sign/private/${SECRET}?token=${old}`, {
      method: "PUT",
      headers: { ...callers.anon, "content-type": "text/plain" },
      body: "pwned",
    });
    await expectStorageError(res, "400", "InvalidUploadSignature");
    expect(await stateOf("private", SECRET)).toEqual(pristine.private);
  });

  test("an upload token is not a session of its signer at the gateway", async () => {
    const { token } = (await (await api("A", "POST", `/object/upload/sign/private/${A}/session.txt`)).json()) as { token: string };
    for (const path of [`/object/private/${SECRET}`, `/object/authenticated/private/${SECRET}`]) {
      const res = await fetch(`${base}${path}`, { headers: { apikey: srv.keys.anon, authorization: `Bearer ${token}` } });
      expect(res.status).not.toBe(200);
      expect(await res.text()).not.toContain("A's private secret");
    }
    const list = await fetch(`${base}/object/list/private`, {
      method: "POST",
      headers: { apikey: token, "content-type": "application/json" },
      body: JSON.stringify({ prefix: A }),
    });
    expect(list.status).not.toBe(200);
  });
});

describe("item 8: a signed download URL grants its version only", () => {
  test("?versionId= added to a URL signed for the current object is refused; a versioned URL serves only its version", async () => {
    const name = `${A}/report.txt`;
    await uploadAs("A", "history", name, "v1: salaries");
    await uploadAs("A", "history", name, "v2: redacted", "text/plain", true);
    const [old] = await sql<{ version: string }[]>`select version from storage.object_versions where bucket_id = 'history' and name = ${name}`;
    expect(old).toBeDefined();
    const signed = (await (await api("A", "POST", `/object/sign/history/${name}`, { json: { expiresIn: 60 } })).json()) as { signedURL: string };
    expect(await (await fetch(`${base}${signed.signedURL}`)).text()).toBe("v2: redacted");
    for (const extra of [`&versionId=${old!.version}`, `&versionId=${old!.version}&download`]) {
      const tampered = await fetch(`${base}${signed.signedURL}${extra}`);
      const text = await tampered.text();
      expect(text).not.toContain("salaries");
      expect(tampered.status).toBe(400);
      expect(JSON.parse(text)).toMatchObject({ statusCode: "400", code: "InvalidSignature" });
      const head = await fetch(`${base}${signed.signedURL}${extra}`, { method: "HEAD" });
      expect(head.status).toBe(400);
    }
    // A URL A signs for the old version serves that version, and no other.
    const v1 = (await (await api("A", "POST", `/object/sign/history/${name}`, { json: { expiresIn: 60, versionId: old!.version } })).json()) as {
      signedURL: string;
    };
    expect(await (await fetch(`${base}${v1.signedURL}`)).text()).toBe("v1: salaries");
    expect(await (await fetch(`${base}${v1.signedURL}&versionId=${old!.version}`)).text()).toBe("v1: salaries");
    const [current] = await sql<{ version: string }[]>`select version from storage.objects where bucket_id = 'history' and name = ${name}`;
    await expectStorageError(await fetch(`${base}${v1.signedURL}&versionId=${current!.version}`), "400", "InvalidSignature");
  });
});

describe("item 9: bucket existence is not revealed by DELETE", () => {
  test("DELETE, PUT and empty of an invisible bucket answer exactly what GET answers", async () => {
    for (const who of ["anon", "B"] as const) {
      const get = await api(who, "GET", "/bucket/hidden");
      const getBody = await get.text();
      expect(JSON.parse(getBody)).toMatchObject({ statusCode: "404", code: "NoSuchBucket" });
      for (const [method, path, json] of [
        ["DELETE", "/bucket/hidden", undefined],
        ["PUT", "/bucket/hidden", { public: true }],
        ["POST", "/bucket/hidden/empty", undefined],
      ] as const) {
        const res = await api(who, method, path, json ? { json } : {});
        expect(res.status).toBe(get.status);
        expect(await res.text()).toBe(getBody);
      }
      // And a bucket that does not exist at all answers the same.
      const none = await api(who, "DELETE", "/bucket/no-such-bucket");
      expect(none.status).toBe(get.status);
      expect(await none.text()).toBe(getBody);
    }
    const [b] = await sql`select public from storage.buckets where id = 'hidden'`;
    expect(b).toEqual({ public: false });
    expect(await exists("hidden", "x.txt")).toBe(true);
    // The service role, which sees it, still learns it is not empty.
    await expectStorageError(
      await fetch(`${base}/bucket/hidden`, { method: "DELETE", headers: { authorization: `Bearer ${srv.keys.service_role}` } }),
      "409",
      "ResourceNotEmpty",
    );
  });
});

describe("served content is never active on Plinth's origin", () => {
  const active: [string, string, string][] = [
    ["page.html", "text/html", "<script>document.title=document.cookie</script>"],
    ["page2.html", "text/html; charset=utf-8", "<script>alert(1)</script>"],
    ["pic.svg", "image/svg+xml", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'],
    ["feed.xml", "application/xml", '<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'],
    ["doc.xml", "text/xml", "<a/>"],
    ["page.xhtml", "application/xhtml+xml", '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'],
    // Browsers take the last type of a comma list: this is text/html to them.
    ["sneaky.txt", "text/plain, text/html", "<script>alert(1)</script>"],
  ];
  const inert = (res: Response) => {
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const csp = res.headers.get("content-security-policy") ?? "";
    const attachment = (res.headers.get("content-disposition") ?? "").startsWith("attachment");
    expect(attachment || (csp.includes("sandbox") && csp.includes("default-src 'none'"))).toBe(true);
  };

  test("HTML, SVG and XML: authenticated, public, signed, ranged, conditional and HEAD responses", async () => {
    for (const [file, type, body] of active) {
      const name = `${A}/${file}`;
      await uploadAs("A", "private", name, body, type);
      const pub = await fetch(`${base}/object/pub/${file}`, {
        method: "POST",
        headers: { authorization: `Bearer ${srv.keys.service_role}`, "content-type": type },
        body,
      });
      expect(pub.status).toBe(200);
      const signed = (await (await api("A", "POST", `/object/sign/private/${name}`, { json: { expiresIn: 60 } })).json()) as { signedURL: string };
      const responses = [
        await api("A", "GET", `/object/private/${name}`),
        await api("A", "GET", `/object/authenticated/private/${name}`),
        await api("A", "GET", `/object/private/${name}`, { headers: { range: "bytes=0-3" } }),
        await api("A", "HEAD", `/object/private/${name}`),
        await fetch(`${base}/object/public/pub/${file}`),
        await fetch(`${base}/object/public/pub/${file}`, { method: "HEAD" }),
        await fetch(`${base}/object/public/pub/${file}`, { headers: { range: "bytes=1-" } }),
        await fetch(`${base}${signed.signedURL}`),
        await fetch(`${base}${signed.signedURL}`, { method: "HEAD" }),
      ];
      const etag = responses[0]!.headers.get("etag")!;
      responses.push(await api("A", "GET", `/object/private/${name}`, { headers: { "if-none-match": etag } }));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 206, 200, 200, 200, 206, 200, 200, 304]);
      for (const res of responses) inert(res);
    }
  });

  test("only strictly parsed passive media types escape the sandbox", () => {
    for (const t of ["image/png", "IMAGE/JPEG", "image/webp; q=1", "video/mp4", "audio/mpeg", "font/woff2", "application/pdf"])
      expect(isPassiveType(t)).toBe(true);
    for (const t of [
      "text/html",
      "image/svg+xml",
      "text/xml",
      "application/xml",
      "application/xhtml+xml",
      "image/png, text/html",
      'image/png;a="x,text/html"',
      "text/plain",
      "application/octet-stream",
      "image/svg",
      "video/x-foo+xml",
      "",
      "image/png\ntext/html",
    ]) {
      expect(isPassiveType(t)).toBe(false);
    }
  });

  test("passive media keeps rendering inline (nosniff, no sandbox); a type that is not a header is not served as one", async () => {
    await uploadAs("A", "private", `${A}/photo.png`, "\x89PNG", "image/png");
    const png = await api("A", "GET", `/object/private/${A}/photo.png`);
    expect(png.headers.get("content-type")).toBe("image/png");
    expect(png.headers.get("x-content-type-options")).toBe("nosniff");
    expect(png.headers.get("content-security-policy")).toBeNull();
    // A TUS upload's type comes base64-encoded, so it can hold a line break.
    const meta = (m: Record<string, string>) =>
      Object.entries(m)
        .map(([k, v]) => `${k} ${Buffer.from(v).toString("base64")}`)
        .join(",");
    const created = await api("A", "POST", "/upload/resumable", {
      headers: {
        "tus-resumable": "1.0.0",
        "upload-length": "5",
        "upload-metadata": meta({ bucketName: "private", objectName: `${A}/crlf.html`, contentType: "text/plain\r\nx-injected: 1" }),
      },
    });
    expect(created.status).toBe(201);
    const patched = await fetch(created.headers.get("location")!, {
      method: "PATCH",
      headers: { ...callers.A, "tus-resumable": "1.0.0", "upload-offset": "0", "content-type": "application/offset+octet-stream" },
      body: "<b>x!",
    });
    expect(patched.status).toBe(204);
    const res = await api("A", "GET", `/object/private/${A}/crlf.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-injected")).toBeNull();
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    inert(res);
  });
});

describe("cross-user matrix on A's private objects: only A succeeds", () => {
  type Op = (who: Who, name: string) => Promise<boolean>;
  const ok = (res: Response) => res.status === 200;
  const ops: Record<string, Op> = {
    download: async (who, name) => {
      const res = await api(who, "GET", `/object/private/${name}`);
      return ok(res) && (await res.text()) === "matrix";
    },
    "authenticated download": async (who, name) => ok(await api(who, "GET", `/object/authenticated/private/${name}`)),
    info: async (who, name) => ok(await api(who, "GET", `/object/info/private/${name}`)),
    versions: async (who, name) => ok(await api(who, "GET", `/object/versions/private/${name}`)),
    list: async (who, name) => {
      const res = await api(who, "POST", "/object/list/private", { json: { prefix: A } });
      return ok(res) && ((await res.json()) as { name: string }[]).some((o) => `${A}/${o.name}` === name);
    },
    "list-v2": async (who, name) => {
      const res = await api(who, "POST", "/object/list-v2/private", { json: { prefix: `${A}/` } });
      return ok(res) && ((await res.json()) as { objects: { name: string }[] }).objects.some((o) => o.name === name);
    },
    search: async (who, name) => {
      const res = await api(who, "POST", "/object/search/private", { json: { prefix: A } });
      return ok(res) && ((await res.json()) as { name: string }[]).some((o) => o.name === name);
    },
    upload: async (who, name) => {
      const res = await api(who, "POST", `/object/private/${name}.new`, { body: "new", headers: { "content-type": "text/plain" } });
      return ok(res) && (await exists("private", `${name}.new`));
    },
    "upload with x-upsert": async (who, name) =>
      ok(await api(who, "POST", `/object/private/${name}`, { body: "changed", headers: { "content-type": "text/plain", "x-upsert": "true" } })),
    update: async (who, name) => ok(await api(who, "PUT", `/object/private/${name}`, { body: "changed", headers: { "content-type": "text/plain" } })),
    move: async (who, name) => {
      const res = await api(who, "POST", "/object/move", {
        json: { bucketId: "private", sourceKey: name, destinationKey: `${folderOf(who)}/moved-${crypto.randomUUID()}.txt` },
      });
      return ok(res) && !(await exists("private", name));
    },
    copy: async (who, name) => {
      const dest = `${folderOf(who)}/copied-${crypto.randomUUID()}.txt`;
      const res = await api(who, "POST", "/object/copy", { json: { bucketId: "private", sourceKey: name, destinationKey: dest } });
      return ok(res) && (await exists("private", dest));
    },
    delete: async (who, name) => ok(await api(who, "DELETE", `/object/private/${name}`)) && !(await exists("private", name)),
    "bulk delete": async (who, name) => {
      await api(who, "DELETE", "/object/private", { json: { prefixes: [name] } });
      return !(await exists("private", name));
    },
    sign: async (who, name) => {
      const res = await api(who, "POST", `/object/sign/private/${name}`, { json: { expiresIn: 60 } });
      if (!ok(res)) return false;
      return (await (await fetch(`${base}${((await res.json()) as { signedURL: string }).signedURL}`)).text()) === "matrix";
    },
    "sign many": async (who, name) => {
      const res = await api(who, "POST", "/object/sign/private", { json: { expiresIn: 60, paths: [name] } });
      return ok(res) && ((await res.json()) as { signedURL: string | null }[])[0]?.signedURL != null;
    },
    "sign upload": async (who, name) => ok(await api(who, "POST", `/object/upload/sign/private/${name}`, { headers: { "x-upsert": "true" } })),
  };

  for (const [op, run] of Object.entries(ops)) {
    for (const who of ["A", "B", "anon"] as const) {
      test(`${who}: ${op}`, async () => {
        const name = `${A}/matrix-${op.replace(/\W/g, "-")}-${who}.txt`;
        await uploadAs("A", "private", name, "matrix");
        const before = await stateOf("private", name);
        const succeeded = await run(who, name);
        expect(succeeded).toBe(who === "A");
        if (who !== "A") {
          expect(await stateOf("private", name)).toEqual(before);
          expect(await exists("private", `${name}.new`)).toBe(false);
        }
        expect(await stateOf("private", SECRET)).toEqual(pristine.private);
      });
    }
  }

  test("B cannot plant its own object into A's folder by move or copy", async () => {
    await uploadAs("B", "private", `${B}/bait.txt`, "bait");
    const moved = await api("B", "POST", "/object/move", { json: { bucketId: "private", sourceKey: `${B}/bait.txt`, destinationKey: `${A}/bait.txt` } });
    await expectStorageError(moved, "403");
    const copied = await api("B", "POST", "/object/copy", { json: { bucketId: "private", sourceKey: `${B}/bait.txt`, destinationKey: SECRET } });
    expect(copied.status).toBe(400);
    const upserted = await api("B", "POST", "/object/copy", {
      json: { bucketId: "private", sourceKey: `${B}/bait.txt`, destinationKey: SECRET },
      headers: { "x-upsert": "true" },
    });
    expect(upserted.status).toBe(400);
    expect(await exists("private", `${A}/bait.txt`)).toBe(false);
    expect(await stateOf("private", SECRET)).toEqual(pristine.private);
  });
});
