// The progress of a backup or restore: bytes done of an expected total. The bar is drawn on a
// terminal only (stderr, redrawn in place at most 10 times a second); anywhere else the progress
// is silent, so scripts and logs see nothing but the result.

export interface Progress {
  /** More bytes are expected (a backup learns its total part by part). */
  expect(moreBytes: number): void;
  advance(bytes: number): void;
  /** Clears the bar, leaving the terminal line empty for what follows. */
  done(): void;
  /** The part of the work now under way (the admin API's backup job shows it; the bar does not). */
  phase?(name: BackupPhase): void;
}

/** What a backup is copying: the configuration and secrets, the cluster, stored objects, the WAL, the manifest. */
export type BackupPhase = "files" | "database" | "objects" | "wal" | "finishing";

export const silentProgress: Progress = { expect() {}, advance() {}, done() {} };

const WIDTH = 30;
const REDRAW_MS = 100;

/** A bar drawn by `write` (stderr), prefixed with `label` ("backup", "restore"). */
export function terminalProgress(label: string, write: (s: string) => void, columns = 80): Progress {
  let total = 0;
  let done = 0;
  let lastDraw = 0;
  const started = performance.now();
  const draw = () => {
    const share = total > 0 ? Math.min(done / total, 1) : 0;
    const filled = Math.round(share * WIDTH);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const line = `${label} [${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)} %  ${formatBytes(done)} / ${formatBytes(total)}  ${formatBytes(rate)}/s`;
    write(`\r${line.slice(0, columns - 1)}\x1b[K`);
  };
  return {
    expect(bytes) {
      total += bytes;
    },
    advance(bytes) {
      done += bytes;
      const now = performance.now();
      if (total > 0 && now - lastDraw >= REDRAW_MS) {
        lastDraw = now;
        draw();
      }
    },
    done() {
      write("\r\x1b[K");
    },
  };
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
