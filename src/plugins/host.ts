// The plugin host: finds plugin modules, orders them by dependsOn, runs init then start in that
// order (stop in reverse at shutdown), and runs their hooks with timeouts and containment.
//
// Where plugins come from: plugins.dir, else <dataDir>/plugins, else ./plugins (the first that
// exists). Each *.ts, *.js or *.mjs file there (or index file of a subdirectory) is loaded with a
// dynamic import of its absolute file path, which also works from the compiled binary (Bun
// transpiles the file at runtime; it is not bundled).
//
// Failure rules: a module that does not load, a bad shape, a missing or circular dependency, or an
// init/start that throws stops start-up with PluginStartError naming the plugin (plugins already
// started are stopped first). A hook that throws or times out is contained: logged, counted in
// stats(), and the request answered per the hook's policy.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Config } from "../config/schema.ts";
import type { Database } from "../db/pool.ts";
import { ident } from "../admin/meta/ident.ts";
import { PlinthError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { PluginEventBus } from "./bus.ts";
import { PLUGIN_EVENTS, PluginRefusal, type HookFn, type Plugin, type PluginContext, type PluginEvent } from "./types.ts";

export class PluginStartError extends Error {
  constructor(
    readonly plugin: string,
    message: string,
  ) {
    super(`plugin ${plugin}: ${message}`);
  }
}

export const PluginErrors = {
  refused: (plugin: string, message: string) => new PlinthError(403, "plugin_refused", message || `Refused by plugin ${plugin}`),
  hookFailed: (plugin: string) => new PlinthError(503, "plugin_hook_failed", `A plugin (${plugin}) could not process the request, try again later`),
};

export interface LoadedPlugin {
  plugin: Plugin;
  file: string;
  state: "loaded" | "initialised" | "started" | "stopped";
  hookFailures: number;
  hookCalls: number;
}

/** The plugins directory in use, or null. */
export function pluginsDir(config: Config): string | null {
  const candidates = config.plugins.dir ? [config.plugins.dir] : [join(config.dataDir, "plugins"), "plugins"];
  for (const c of candidates) if (existsSync(c) && statSync(c).isDirectory()) return resolve(c);
  return null;
}

function pluginFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".") || name.startsWith("_") || name.endsWith(".d.ts") || name.includes(".test.")) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) {
      const index = ["index.ts", "index.js", "index.mjs"].map((f) => join(full, f)).find(existsSync);
      if (index) out.push(index);
    } else if (/\.(ts|js|mjs)$/.test(name)) out.push(full);
  }
  return out;
}

/** Loads (imports and checks) the plugins without running them: for `plinth plugins list` too. */
export async function loadPlugins(config: Config): Promise<LoadedPlugin[]> {
  const dir = pluginsDir(config);
  if (!dir) return [];
  const loaded: LoadedPlugin[] = [];
  for (const file of pluginFiles(dir)) {
    let mod: Record<string, unknown>;
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (err) {
      throw new PluginStartError(file, `could not be loaded: ${(err as Error)?.message ?? err}`);
    }
    const p = (mod.default ?? mod.plugin) as Plugin | undefined;
    if (!p || typeof p !== "object" || typeof p.name !== "string" || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(p.name)) {
      throw new PluginStartError(file, "must export default { name, version, … } with a lowercase name (a-z, 0-9, - and _)");
    }
    if (typeof p.version !== "string") throw new PluginStartError(p.name, "has no version");
    for (const e of Object.keys(p.hooks ?? {}))
      if (!PLUGIN_EVENTS.includes(e as PluginEvent)) throw new PluginStartError(p.name, `hooks an unknown event ${e}`);
    if (config.plugins.disabled.includes(p.name)) continue;
    if (loaded.some((l) => l.plugin.name === p.name)) throw new PluginStartError(p.name, `is defined twice (${file})`);
    loaded.push({ plugin: p, file, state: "loaded", hookFailures: 0, hookCalls: 0 });
  }
  return orderByDependencies(loaded);
}

/** Dependencies first (a stable topological order); missing or circular dependencies stop start-up. */
export function orderByDependencies(list: LoadedPlugin[]): LoadedPlugin[] {
  const byName = new Map(list.map((l) => [l.plugin.name, l]));
  const out: LoadedPlugin[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (l: LoadedPlugin, path: string[]) => {
    const name = l.plugin.name;
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new PluginStartError(name, `has a circular dependency (${[...path, name].join(" → ")})`);
    state.set(name, "visiting");
    for (const dep of l.plugin.dependsOn ?? []) {
      const d = byName.get(dep);
      if (!d) throw new PluginStartError(name, `depends on ${dep}, which is not loaded`);
      visit(d, [...path, name]);
    }
    state.set(name, "done");
    out.push(l);
  };
  for (const l of list) visit(l, []);
  return out;
}

export class PluginHost {
  readonly events: PluginEventBus;
  constructor(
    readonly plugins: LoadedPlugin[],
    private readonly config: Config,
    private readonly db: Database | null,
    private readonly log: Logger,
  ) {
    this.events = new PluginEventBus((event, err) => this.log.warn("plugin: listener failed", { event, error: err }));
  }

  private contextOf(p: Plugin): PluginContext {
    const own = (this.config.plugins.config[p.name] ?? {}) as Record<string, unknown>;
    const role = typeof own.role === "string" ? own.role : "service_role";
    const db = this.db;
    const log = this.log;
    const fields = (f?: Record<string, unknown>) => ({ plugin: p.name, ...(f ?? {}) });
    return {
      name: p.name,
      config: own,
      log: {
        debug: (m, f) => log.debug(m, fields(f)),
        info: (m, f) => log.info(m, fields(f)),
        warn: (m, f) => log.warn(m, fields(f)),
        error: (m, f) => log.error(m, fields(f)),
      },
      db: {
        role,
        async transaction(fn) {
          if (!db) throw new Error("no database");
          return db.sql.begin(async (tx) => {
            // The role name comes from the operator's config; ident() quotes it.
            await tx.unsafe(`set local role ${ident(role)}`);
            return fn(tx);
          }) as never;
        },
      },
      events: this.events,
    };
  }

  /** init then start, in dependency order; on failure, stops what started and throws naming the plugin. */
  async start(): Promise<void> {
    const step = async (l: LoadedPlugin, what: "init" | "start") => {
      try {
        if (what === "init") await l.plugin.init?.(this.contextOf(l.plugin));
        else await l.plugin.start?.();
        l.state = what === "init" ? "initialised" : "started";
      } catch (err) {
        await this.stop();
        throw new PluginStartError(l.plugin.name, `${what} failed: ${(err as Error)?.message ?? err}`);
      }
    };
    for (const l of this.plugins) await step(l, "init");
    for (const l of this.plugins) await step(l, "start");
    if (this.plugins.length) this.log.info("plugins started", { plugins: this.plugins.map((l) => `${l.plugin.name}@${l.plugin.version}`) });
  }

  async stop(): Promise<void> {
    for (const l of [...this.plugins].reverse()) {
      if (l.state === "loaded" || l.state === "stopped") continue;
      try {
        await l.plugin.stop?.();
      } catch (err) {
        this.log.warn("plugin: stop failed", { plugin: l.plugin.name, error: err });
      }
      l.state = "stopped";
    }
  }

  /**
   * Runs every plugin's hook for `event`, in dependency order, each under its timeout. A refusal
   * (PluginRefusal, or {reject}) throws 403 plugin_refused; a failure follows the hook's policy.
   */
  async runHooks(event: PluginEvent, payload: Record<string, unknown>, afterTheFact = false): Promise<void> {
    for (const l of this.plugins) {
      const spec = l.plugin.hooks?.[event];
      if (!spec || l.state !== "started") continue;
      const handler: HookFn = typeof spec === "function" ? spec : spec.handler;
      const policy = typeof spec === "function" ? "continue" : (spec.policy ?? "continue");
      const timeout = (typeof spec === "function" ? undefined : spec.timeout) ?? this.config.plugins.hookTimeout;
      l.hookCalls++;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const result = await Promise.race([
          Promise.resolve().then(() => handler(structuredClone(payload))),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`hook timed out after ${timeout} ms`)), timeout);
          }),
        ]);
        if (result && typeof result === "object" && typeof result.reject === "string") throw PluginErrors.refused(l.plugin.name, result.reject);
      } catch (err) {
        // After the fact there is nothing to refuse: one plugin's refusal or failure must not keep
        // the event from the plugins after it.
        if (afterTheFact && (err instanceof PlinthError || err instanceof PluginRefusal)) continue;
        if (err instanceof PlinthError) throw err;
        if (err instanceof PluginRefusal) throw PluginErrors.refused(l.plugin.name, err.message);
        l.hookFailures++;
        this.log.warn("plugin: hook failed", { plugin: l.plugin.name, event, policy, error: (err as Error)?.message ?? String(err) });
        if (policy === "reject" && !afterTheFact) throw PluginErrors.hookFailed(l.plugin.name);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** Whether any started plugin hooks `event` or listens to it on the bus: callers check this first, so nothing is built for nobody. */
  listens(event: PluginEvent): boolean {
    return this.events.has(event) || this.plugins.some((l) => l.plugin.hooks?.[event] && l.state === "started");
  }

  /** After-the-fact events: hooks run in the background (never delaying the answer) and listeners are told. */
  notify(event: PluginEvent, payload: Record<string, unknown>): void {
    this.events.emit(event, payload);
    if (this.plugins.some((l) => l.plugin.hooks?.[event])) {
      void this.runHooks(event, payload, true).catch(() => {});
    }
  }

  /**
   * An after-the-fact event delivered in order (data.change's feed): listeners are told, then the
   * hooks run and are awaited; nothing is rethrown (a refusal means nothing after the fact).
   */
  async deliver(event: PluginEvent, payload: Record<string, unknown>): Promise<void> {
    this.events.emit(event, payload);
    if (!this.plugins.some((l) => l.plugin.hooks?.[event])) return;
    try {
      await this.runHooks(event, payload, true);
    } catch {
      // Contained above; nothing reaches here, but the feed must never see a rejection.
    }
  }

  stats(): Record<string, unknown>[] {
    return this.plugins.map((l) => ({ name: l.plugin.name, version: l.plugin.version, state: l.state, hookCalls: l.hookCalls, hookFailures: l.hookFailures }));
  }
}
