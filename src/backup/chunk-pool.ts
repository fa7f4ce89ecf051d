// Reusable 1 MiB buffers for the archive writer. A fresh buffer per chunk costs more than the
// hashing: the kernel maps and zeroes every new page. Measured on the 1 GiB table file of
// bench/backup.ts (read, sha256, write): 1.6–3.6 s with a fresh buffer per chunk, 0.9–1.4 s with
// two reused ones. A chunk handed to the tar stream is given back once it has been written.
//
// Only whole chunks come from the pool (the tail of a file and small files get fresh buffers). No
// deadlock: a whole chunk alone makes the writer flush, so while the reader waits for a buffer,
// every lent one is on its way to the file.

export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly lent = new Set<Buffer>();
  private waiter: { resolve(): void; reject(err: Error): void } | null = null;
  private failure: Error | null = null;

  constructor(
    readonly chunkSize: number,
    count: number,
  ) {
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafe(chunkSize));
  }

  /** A buffer of chunkSize bytes, once one is free. */
  async take(): Promise<Buffer> {
    while (this.free.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
    }
    const chunk = this.free.pop()!;
    this.lent.add(chunk);
    return chunk;
  }

  /** `chunk` has been written: it is free again. Chunks the pool did not lend are ignored. */
  giveBack(chunk: Buffer): void {
    if (!this.lent.delete(chunk)) return;
    this.free.push(chunk);
    this.wake();
  }

  /** The writer failed: a reader waiting for a buffer gets the error instead of waiting forever. */
  fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.resolve();
  }
}
