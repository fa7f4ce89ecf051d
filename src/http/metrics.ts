// Prometheus text exposition for the gateway: requests by route and status, a latency histogram and
// the database pool's use. Counters live in plain Maps; rendering happens only on scrape.
const BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly histogram = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  private sumMs = 0;
  private count = 0;

  observe(route: string, status: number, ms: number): void {
    const key = `${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let i = 0;
    while (i < BUCKETS_MS.length && ms > BUCKETS_MS[i]!) i++;
    this.histogram[i]!++;
    this.sumMs += ms;
    this.count++;
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
