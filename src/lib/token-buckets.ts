// Token buckets keyed by client IP or user id. Each bucket holds up to `capacity` tokens and refills
// continuously at `perSecond`; a request takes one token or is refused with the seconds until one is
// back. Buckets untouched long enough to be full again are dropped by sweep(), so memory stays bounded
// by the number of recently active clients.
export interface BucketConfig {
  capacity: number;
  perSecond: number;
}

interface Bucket {
  tokens: number;
  at: number; // ms timestamp of the last refill
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  // A monotonic clock: a wall-clock step backwards (NTP, an operator) must not drain every bucket.
  constructor(
    private readonly cfg: BucketConfig,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.cfg.capacity > 0;
  }

  /** Takes one token. Returns 0 when allowed, else the whole seconds to wait (>= 1). */
  take(key: string): number {
    if (!this.enabled) return 0;
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.cfg.capacity, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.cfg.capacity, b.tokens + ((now - b.at) / 1000) * this.cfg.perSecond);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    if (this.cfg.perSecond <= 0) return 3600;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.cfg.perSecond));
  }

  /** Drops buckets that would be full by now. */
  sweep(): void {
    const now = this.now();
    const fullAfterMs = this.cfg.perSecond > 0 ? (this.cfg.capacity / this.cfg.perSecond) * 1000 : Infinity;
    for (const [k, b] of this.buckets) if (now - b.at >= fullAfterMs) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
