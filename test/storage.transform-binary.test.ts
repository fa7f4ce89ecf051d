// Image transformations from the compiled binary, in a directory with no node_modules: the build
// embeds sharp's native addon and libvips (scripts/build.ts), `serve` unpacks them once into
// <dataDir>/lib and renders. The binary is the run's shared build (test/support/binary.ts).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { compiledBinary } from "./support/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "plinth-transform-bin-"));
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the binary renders JPEG→WebP, AVIF and JPEG with sharp unpacked into the data dir", async () => {
  const bin = await compiledBinary();
  expect(existsSync(join(dir, "node_modules"))).toBe(false);
  const secret = "transform-binary-secret-transform-binary";
  const keys = JSON.parse(
    Bun.spawnSync([bin, "keys", "--json"], { cwd: dir, env: { ...clean, PLINTH_JWT_SECRET: secret }, stdout: "pipe" }).stdout.toString(),
  ) as {
    service_role: string;
  };
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dataDir = join(dir, "data");
  const proc = Bun.spawn([bin, "serve"], {
    cwd: dir,
    env: { ...clean, PLINTH_DATA_DIR: dataDir, PLINTH_JWT_SECRET: secret, PLINTH_PORT: String(port), PLINTH_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 120; i++) {
      if (
        await fetch(`${base}/health`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await Bun.sleep(500);
    }
    const auth = { Authorization: `Bearer ${keys.service_role}` };
    const mk = await fetch(`${base}/storage/v1/bucket`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "pics", public: true }),
    });
    expect(mk.status).toBe(200);
    const jpeg = await sharp({ create: { width: 1024, height: 768, channels: 3, background: "#336699" } })
      .jpeg()
      .toBuffer();
    const up = await fetch(`${base}/storage/v1/object/pics/a.jpg`, { method: "POST", headers: { ...auth, "content-type": "image/jpeg" }, body: jpeg });
    expect(up.status).toBe(200);
    for (const [q, mime, format] of [
      ["width=256&format=webp", "image/webp", "webp"],
      ["width=200&format=avif", "image/avif", "heif"],
      ["width=128&format=origin", "image/jpeg", "jpeg"],
    ] as const) {
      const res = await fetch(`${base}/storage/v1/render/image/public/pics/a.jpg?${q}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(mime);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect(meta.format).toBe(format);
    }
    const bad = await fetch(`${base}/storage/v1/object/pics/bad.jpg`, {
      method: "POST",
      headers: { ...auth, "content-type": "image/jpeg" },
      body: "not a jpeg",
    });
    expect(bad.status).toBe(200);
    const refused = await fetch(`${base}/storage/v1/render/image/public/pics/bad.jpg?width=10`);
    expect(((await refused.json()) as { message: string }).message).toBe("The source image is invalid or unsupported for rendering");
    expect(readdirSync(join(dataDir, "lib")).some((d) => d.startsWith("sharp-"))).toBe(true);
  } finally {
    proc.kill();
    await proc.exited;
  }
}, 240_000);
