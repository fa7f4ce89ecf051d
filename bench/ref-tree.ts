// The older source tree of a before/after comparison: a temporary, detached `git worktree` of a
// ref, with node_modules symlinked from this checkout (the ref's lock file may differ; the
// packages the servers load are this checkout's, so only Plinth's own code differs). The
// benchmark scripts always come from this checkout; only the server code is taken from the tree.
// Trap: `remove()` must run even when a benchmark throws or the run is interrupted, or
// `git worktree list` keeps a stale entry (run.ts calls it in `finally` and on SIGINT/SIGTERM).
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./lib.ts";

export interface Revision {
  commit: string;
  subject: string;
}

export interface RefTree extends Revision {
  /** The ref as given on the command line. */
  ref: string;
  root: string;
  remove(): void;
}

function git(args: string[]): string {
  const r = Bun.spawnSync(["git", "-C", ROOT, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim();
}

export function revision(ref: string): Revision {
  const commit = git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  return { commit, subject: git(["log", "-1", "--format=%s", commit]) };
}

/** Files of the current tree that differ from HEAD where the server code lives (src/, migrations/, package.json). */
export function uncommittedServerFiles(): string[] {
  return git(["status", "--porcelain", "--", "src", "migrations", "package.json"]).split("\n").filter(Boolean);
}

export function createRefTree(ref: string): RefTree {
  let rev: Revision;
  try {
    rev = revision(ref);
  } catch {
    throw new Error(`${ref} is not a commit of this repository`);
  }
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-ref-"));
  const root = join(dir, "tree");
  try {
    git(["worktree", "add", "--detach", root, rev.commit]);
    symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let removed = false;
  return {
    ...rev,
    ref,
    root,
    remove() {
      if (removed) return;
      removed = true;
      try {
        git(["worktree", "remove", "--force", root]);
      } catch {
        /* removed below; prune forgets it */
      }
      rmSync(dir, { recursive: true, force: true });
      try {
        git(["worktree", "prune"]);
      } catch {
        /* nothing to prune */
      }
    },
  };
}
