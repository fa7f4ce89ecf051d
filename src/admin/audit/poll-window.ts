// Polled reads in the audit log: the console's overview asks GET /admin/v1/stats every 2 s and the
// logs screen GET /admin/v1/logs every second, so an open console used to write 30–60 audit rows a
// minute that said nothing new ("still looking"), burying the calls that change something and
// growing the hash chain for nothing. A route that opts in (AdminRouteSpec.pollWindowMs: read-only
// telemetry only, never a write) records the first successful call of each identity per window and
// folds the rest into the next record (`details.folded_calls`: how many calls of the previous window
// it stands for). Refusals and errors are never folded (route.ts records them every time).
//
// Traps: the state is per node and in memory (a restart or another node opens a new window: at
// worst one extra record, never a missing one); it is bounded, and when full a call is recorded
// rather than folded (the failure mode is "audited", not "forgotten"). The calls folded into the
// last window of an identity that stops polling are not counted anywhere: the record opening that
// window already says who read what, from where, and that later calls within the window are folded.

const MAX_IDENTITIES = 10_000;

interface Window {
  openedAt: number;
  /** Successful calls inside this window that were not recorded on their own. */
  folded: number;
}

export type PollDecision = { record: true; foldedBefore: number } | { record: false };

export class PollWindows {
  private readonly open = new Map<string, Window>();

  constructor(readonly windowMs: number) {}

  /** A successful call by `identity` at `now`: record it (and say what the last window folded), or fold it. */
  note(identity: string, now = Date.now()): PollDecision {
    const w = this.open.get(identity);
    if (w && now - w.openedAt < this.windowMs && now >= w.openedAt) {
      w.folded++;
      return { record: false };
    }
    const foldedBefore = w?.folded ?? 0;
    if (!w && this.open.size >= MAX_IDENTITIES) {
      this.sweep(now);
      if (this.open.size >= MAX_IDENTITIES) return { record: true, foldedBefore: 0 };
    }
    this.open.set(identity, { openedAt: now, folded: 0 });
    return { record: true, foldedBefore };
  }

  private sweep(now: number): void {
    for (const [k, w] of this.open) if (now - w.openedAt >= this.windowMs) this.open.delete(k);
  }
}
