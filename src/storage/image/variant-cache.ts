// Rendered variants on disk: <dir>/<2 hex>/<key>.<format> files, at most `maxBytes` in total, the oldest
// written evicted first. The key is a hash of the source object's version and the variant's
// options; a version is a new UUID on every write, so a replaced or removed object's variants are
// never served again and simply age out.
//
// Only reached after the access check of the request (render.ts): the cache decides nothing about
// who may see a variant. The index is in memory (rebuilt from the directory at start, oldest
// mtime first); files are published by rename, so a reader never sees a partial variant and a
// crash leaves at most a temp file, removed at the next start.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";

export interface CachedVariant {
  path: string;
  size: number;
  /** The file's extension: the output format (jpeg, webp, …), known before reading it. */
  format: string;
}

interface Entry {
  size: number;
  format: string;
}

export class VariantCache {
  /** key → entry, in insertion (= write) order: the first entry is the oldest. */
  private readonly index = new Map<string, Entry>();
  private total = 0;
  private readonly tmpDir: string;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    this.tmpDir = join(dir, "tmp");
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    const found: { key: string; format: string; size: number; mtime: number }[] = [];
    for (const fan of readdirSync(dir)) {
      if (!/^[0-9a-f]{2}$/.test(fan)) continue;
      for (const file of readdirSync(join(dir, fan))) {
        const m = /^([0-9a-f]{16,})\.([a-z]+)$/.exec(file);
        if (!m) continue;
        try {
          const s = statSync(join(dir, fan, file));
          found.push({ key: m[1]!, format: m[2]!, size: s.size, mtime: s.mtimeMs });
        } catch {
          /* removed meanwhile */
        }
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) this.remember(f.key, { size: f.size, format: f.format });
  }

  private pathOf(key: string, format: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.${format}`);
  }

  /** A path to write a new variant to (inside the cache's filesystem, so publishing is a rename). */
  tempPath(): string {
    return join(this.tmpDir, `${Date.now()}-${randomBytes(6).toString("hex")}`);
  }

  async get(key: string): Promise<CachedVariant | null> {
    const entry = this.index.get(key);
    if (!entry) return null;
    const path = this.pathOf(key, entry.format);
    try {
      const s = await stat(path);
      return { path, size: s.size, format: entry.format };
    } catch {
      this.forget(key);
      return null;
    }
  }

  /** Moves a finished temp file into the cache; evicts the oldest variants beyond the cap. */
  async put(key: string, format: string, tempFile: string, size: number): Promise<CachedVariant> {
    const path = this.pathOf(key, format);
    mkdirSync(join(this.dir, key.slice(0, 2)), { recursive: true, mode: 0o700 });
    await rename(tempFile, path);
    this.forget(key);
    this.remember(key, { size, format });
    await this.evict(key);
    return { path, size, format };
  }

  async discard(tempFile: string): Promise<void> {
    await rm(tempFile, { force: true });
  }

  get usage(): { bytes: number; entries: number; maxBytes: number } {
    return { bytes: this.total, entries: this.index.size, maxBytes: this.maxBytes };
  }

  private remember(key: string, entry: Entry): void {
    this.index.set(key, entry);
    this.total += entry.size;
  }

  private forget(key: string): Entry | undefined {
    const entry = this.index.get(key);
    if (entry === undefined) return undefined;
    this.index.delete(key);
    this.total -= entry.size;
    return entry;
  }

  /**
   * Oldest first, never the variant just written (a single variant larger than the cap is still
   * served once, then evicted by the next write). A file being sent while it is removed stays
   * readable to that response (the open file outlives its name).
   */
  private async evict(keep: string): Promise<void> {
    for (const [key] of this.index) {
      if (this.total <= this.maxBytes) return;
      if (key === keep) continue;
      const entry = this.forget(key);
      if (entry) await rm(this.pathOf(key, entry.format), { force: true });
    }
  }
}
