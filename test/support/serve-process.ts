// `plinth serve` as a child process, for tests that need the real thing: a process they can kill
// mid-write, restart on the same data dir, or point the CLI at. Every process started here is
// killed when the calling test file ends (whatever state it was left in).
import { afterAll } from "bun:test";
import type { Subprocess } from "bun";
import { resolve } from "node:path";

export const MAIN = resolve(import.meta.dir, "../../src/main.ts");

/** The environment without any PLINTH_* variable of the shell that runs the tests. */
export const cleanEnv = (): Record<string, string | undefined> => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));

export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export interface ServeProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  base: string;
  stdout: Promise<string>;
  stderr: Promise<string>;
}

const live = new Set<Subprocess>();
afterAll(async () => {
  for (const proc of live) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
});

/** Processes started by this file that have not exited. */
export const liveServers = (): number => live.size;

/**
 * Starts `plinth serve` (from source) in `cwd` with `env` (plus PLINTH_PORT), and returns once
 * /health answers 200; throws with the process's output if it exits or is not up in `timeoutMs`.
 */
export async function startServe(opts: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number }): Promise<ServeProcess> {
  const port = freePort();
  const proc = Bun.spawn([process.execPath, MAIN, "serve"], {
    cwd: opts.cwd,
    env: { ...opts.env, PLINTH_PORT: String(port) },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  const base = `http://127.0.0.1:${port}`;
  const until = performance.now() + (opts.timeoutMs ?? 20_000);
  while (performance.now() < until) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`plinth serve exited (${proc.exitCode ?? proc.signalCode}):\n${await stdout}\n${await stderr}`);
    }
    const status = await fetch(`${base}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return { proc, base, stdout, stderr };
    await Bun.sleep(50);
  }
  proc.kill("SIGKILL");
  throw new Error(`plinth serve did not answer /health within ${opts.timeoutMs ?? 20_000} ms`);
}
