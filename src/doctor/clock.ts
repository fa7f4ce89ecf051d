// clock: the local clock is plausible, and agrees with PostgreSQL's. Tokens are minted and checked
// with the local clock while sessions, refresh tokens and one-time codes expire by the database's
// now(): two clocks apart make fresh tokens look expired (or old ones valid), and nodes of one
// deployment disagree about the same token.
import { ok, warn, fail, type CheckResult } from "./check.ts";

/** Earlier than this the local clock is certainly wrong (a board without a real-time clock boots in 1970). */
const EARLIEST_PLAUSIBLE = Date.parse("2025-01-01T00:00:00Z");
/** Allowed difference between the local and the database clock. */
export const MAX_CLOCK_SKEW_MS = 5_000;

export interface ClockSample {
  /** The database's clock_timestamp(), in ms since the epoch. */
  databaseMs: number;
  /** Local time when the query was sent and when its answer arrived. */
  sentMs: number;
  receivedMs: number;
}

const SYNC = "enable time synchronisation (systemd-timesyncd, chrony or ntpd) on this machine and on the database server";

export function checkClock(sample: ClockSample | null, nowMs: number = Date.now()): CheckResult {
  if (nowMs < EARLIEST_PLAUSIBLE) return fail("clock", `the local clock says ${new Date(nowMs).toISOString()}, which cannot be right`, SYNC);
  if (sample === null) return ok("clock", `local clock ${new Date(nowMs).toISOString()} (not compared with the database, which was not reached)`);
  // The database read its clock somewhere within the round trip; compare it with the midpoint, and
  // allow for the half of the round trip we cannot place.
  const roundTrip = sample.receivedMs - sample.sentMs;
  const skew = sample.databaseMs - (sample.sentMs + roundTrip / 2);
  const apart = `${(Math.abs(skew) / 1000).toFixed(1)} s`;
  if (Math.abs(skew) - roundTrip / 2 > MAX_CLOCK_SKEW_MS) {
    const ahead = skew > 0 ? "the database clock is ahead of this machine's" : "this machine's clock is ahead of the database's";
    return warn("clock", `${ahead} by ${apart}: tokens and sessions may expire early or late`, SYNC);
  }
  return ok("clock", `local clock and the database agree within ${Math.max(Math.abs(skew), roundTrip / 2).toFixed(0)} ms`);
}
