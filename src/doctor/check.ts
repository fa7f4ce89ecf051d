// What one doctor check reports, and the helpers every check module builds it with.
//
// Trap: a check must never throw out of the doctor. A deployment broken in a way nobody foresaw is
// exactly when `plinth doctor` is run, so `guarded` turns anything a check throws into a failed
// check of that name, and `within` bounds everything that waits on the network.

export type CheckStatus = "ok" | "warn" | "fail";

/** The wire shape of `plinth doctor --json` (one entry of `checks`): keep these four keys. */
export interface CheckResult {
  /** Stable snake_case name (scripts match on it). */
  name: string;
  status: CheckStatus;
  /** What was found; may span lines (e.g. a config file's errors, one per line). */
  message: string;
  /** What to do about it; null when the check is ok. */
  fix: string | null;
}

export const ok = (name: string, message: string): CheckResult => ({ name, status: "ok", message, fix: null });
export const warn = (name: string, message: string, fix: string): CheckResult => ({ name, status: "warn", message, fix });
export const fail = (name: string, message: string, fix: string): CheckResult => ({ name, status: "fail", message, fix });

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs a check; whatever it throws becomes a failed check of that name instead of a crash. */
export async function guarded(name: string, check: () => CheckResult | CheckResult[] | Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> {
  try {
    const result = await check();
    return Array.isArray(result) ? result : [result];
  } catch (err) {
    return [fail(name, `the check could not run: ${messageOf(err)}`, "fix the cause above and run `plinth doctor` again")];
  }
}

export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
}

/**
 * `promise`, or a TimeoutError after `ms`. The work itself is not cancelled: callers close what it
 * holds (a pool, a client) so that nothing keeps the process alive once the report is printed.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
