// Prometheus text exposition for the gateway: requests by route and status, a latency histogram and
// the database pool's use. Counters live in plain Maps; rendering happens only on scrape.
// Also a short window of recent requests per API area (recent()), for the admin API's JSON stats:
// a fixed ring per area, so the hot path writes two numbers and allocates nothing.
const BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** The API areas recent() reports, by route label prefix; anything else is "system". */
const AREA_OF_LABEL = /^\/(auth|rest|storage|realtime|admin)\/v1/;
/** Requests remembered per area (the p95 is over these, within the window). */
const RING = 4096;
/** How far back recent() looks. */
export const RECENT_WINDOW_MS = 10_000;
/** Route labels whose ring observe() remembers (routeLabel keeps them few; this only bounds the map). */
const MAX_MEMO_ROUTES = 1024;

class RecentRing {
  readonly at = new Float64Array(RING);
  readonly ms = new Float64Array(RING);
  next = 0;
  total = 0;
  push(now: number, ms: number): void {
    this.at[this.next] = now;
    this.ms[this.next] = ms;
    this.next = (this.next + 1) % RING;
    this.total++;
  }
}

export interface AreaRecent {
  /** Requests per second over the window. */
  requests_per_s: number;
  /** 95th percentile duration over the window's requests (null: none). */
  p95_ms: number | null;
  /** Requests since the process started. */
  total: number;
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly histogram = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  private sumMs = 0;
  private count = 0;
  private readonly areas = new Map<string, RecentRing>();
  /** Each route label's area ring, so a request costs one map lookup, not a regex match (labels are a bounded set). */
  private readonly ringOfRoute = new Map<string, RecentRing>();

  observe(route: string, status: number, ms: number, now = performance.now()): void {
    let ring = this.ringOfRoute.get(route);
    if (!ring) {
      const area = AREA_OF_LABEL.exec(route)?.[1] ?? "system";
      ring = this.areas.get(area);
      if (!ring) this.areas.set(area, (ring = new RecentRing()));
      if (this.ringOfRoute.size < MAX_MEMO_ROUTES) this.ringOfRoute.set(route, ring);
    }
    ring.push(now, ms);
    const key = `${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let i = 0;
    while (i < BUCKETS_MS.length && ms > BUCKETS_MS[i]!) i++;
    this.histogram[i]!++;
    this.sumMs += ms;
    this.count++;
  }

  /** Each area's rate and p95 over the last RECENT_WINDOW_MS (a ring that filled up shortens the window it can see). */
  recent(now = performance.now()): Record<string, AreaRecent> {
    const out: Record<string, AreaRecent> = {};
    for (const area of ["auth", "rest", "storage", "realtime", "admin", "system"]) {
      const ring = this.areas.get(area);
      const window: number[] = [];
      let oldest = now;
      if (ring) {
        for (let i = 0; i < Math.min(ring.total, RING); i++) {
          if (now - ring.at[i]! <= RECENT_WINDOW_MS) {
            window.push(ring.ms[i]!);
            oldest = Math.min(oldest, ring.at[i]!);
          }
        }
      }
      window.sort((a, b) => a - b);
      // A full ring within the window covers less than the window: rate over what it covers.
      const span = window.length >= RING ? Math.max(now - oldest, 1) : RECENT_WINDOW_MS;
      out[area] = {
        requests_per_s: Math.round((window.length / span) * 1000 * 100) / 100,
        p95_ms: window.length ? Math.round(window[Math.min(window.length - 1, Math.ceil(window.length * 0.95) - 1)]! * 100) / 100 : null,
        total: ring?.total ?? 0,
      };
    }
    return out;
  }

  render(gauges: Record<string, { help: string; value: number }> = {}): string {
    const lines: string[] = ["# HELP plinth_http_requests_total HTTP requests by route and status.", "# TYPE plinth_http_requests_total counter"];
    for (const [key, n] of this.requests) {
      const [route, status] = key.split("\u0000");
      lines.push(`plinth_http_requests_total{route="${escapeLabel(route!)}",status="${status}"} ${n}`);
    }
    lines.push("# HELP plinth_http_request_duration_seconds Time from request to response.", "# TYPE plinth_http_request_duration_seconds histogram");
    let cumulative = 0;
    BUCKETS_MS.forEach((le, i) => {
      cumulative += this.histogram[i]!;
      lines.push(`plinth_http_request_duration_seconds_bucket{le="${le / 1000}"} ${cumulative}`);
    });
    lines.push(
      `plinth_http_request_duration_seconds_bucket{le="+Inf"} ${this.count}`,
      `plinth_http_request_duration_seconds_sum ${this.sumMs / 1000}`,
      `plinth_http_request_duration_seconds_count ${this.count}`,
    );
    for (const [name, g] of Object.entries(gauges)) {
      lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.value}`);
    }
    return lines.join("\n") + "\n";
  }
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
