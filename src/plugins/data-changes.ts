// Plugins' `data.change`: the realtime change stream's rows (src/realtime/changes/data-change.ts)
// handed to plugin hooks and bus listeners, one change at a time, in commit order.
//
// Why a queue: the stream must never wait for a plugin. emit() only appends and returns; one
// delivery runs at a time (so a plugin sees changes in the order they committed), each hook under
// its timeout and contained by the host (a throw or a timeout is logged and counted, never
// rethrown). The queue is bounded: when a slow plugin falls MAX_QUEUE changes behind, further
// changes are dropped for plugins (counted in `dropped`, logged at most once a minute) rather than
// letting memory grow or the stream pause; realtime subscribers are not affected either way.
import type { Logger } from "../log.ts";
import type { PluginHost } from "./host.ts";

const MAX_QUEUE = 10_000;
const DROP_LOG_INTERVAL_MS = 60_000;

export class DataChangeFeed {
  private readonly queue: Record<string, unknown>[] = [];
  private running = false;
  private lastDropLog = 0;
  /** Changes not handed to plugins because the queue was full. */
  dropped = 0;
  /** Changes handed to plugins. */
  delivered = 0;

  constructor(
    private readonly host: PluginHost,
    private readonly log: Logger,
    private readonly maxQueue = MAX_QUEUE,
  ) {}

  listening(): boolean {
    return this.host.listens("data.change");
  }

  emit(payload: Record<string, unknown>): void {
    if (this.queue.length >= this.maxQueue) {
      this.dropped++;
      const now = Date.now();
      if (now - this.lastDropLog > DROP_LOG_INTERVAL_MS) {
        this.lastDropLog = now;
        this.log.warn("plugin: data.change queue full, changes dropped for plugins", { dropped: this.dropped, queue: this.queue.length });
      }
      return;
    }
    this.queue.push(payload);
    if (!this.running) {
      this.running = true;
      void this.drain();
    }
  }

  /** Resolves once everything queued so far was delivered (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await Bun.sleep(5);
  }

  get backlog(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const payload = this.queue.shift()!;
        this.delivered++;
        // deliver() never throws: hooks are contained (timeouts, failure counts) by the host.
        await this.host.deliver("data.change", payload);
      }
    } finally {
      this.running = false;
    }
  }
}
