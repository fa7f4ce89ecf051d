// The event bus plugins see (ctx.events): fire-and-forget notifications of the same events the hooks
// receive, for plugins that only listen. Listeners run after the action and can neither delay nor
// refuse it; a throwing listener is logged.
import type { PluginEvent } from "./types.ts";

type Listener = (payload: Record<string, unknown>) => unknown;

export class PluginEventBus {
  private readonly listeners = new Map<string, Set<Listener>>();
  constructor(private readonly onError: (event: string, err: unknown) => void) {}

  on(event: PluginEvent, fn: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  has(event: PluginEvent): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit(event: PluginEvent, payload: Record<string, unknown>): void {
    for (const fn of this.listeners.get(event) ?? []) {
      queueMicrotask(async () => {
        try {
          await fn(payload);
        } catch (err) {
          this.onError(event, err);
        }
      });
    }
  }
}
