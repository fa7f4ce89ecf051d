// What a plugin is: a TS/JS module in the plugins directory whose default export (or `plugin`
// export) has this shape. Hooks are named by event; a "before" hook may refuse the action by
// throwing PluginRefusal (or returning {reject: "message"}); what happens when a hook *fails*
// (throws something else, or times out) is the hook's policy: "continue" (default: logged and
// counted, the request goes on) or "reject" (the request is refused with 503 plugin_hook_failed).
import type { AnyElysia } from "../http/routes.ts";
import type { PluginEventBus } from "./bus.ts";

export const PLUGIN_EVENTS = [
  "auth.before_sign_up",
  "auth.after_sign_up",
  "auth.after_sign_in",
  "storage.after_upload",
  "storage.before_delete",
  "data.change",
] as const;
export type PluginEvent = (typeof PLUGIN_EVENTS)[number];

export interface PluginLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A database handle that runs each transaction as the plugin's role (plugins.config.<name>.role, default service_role). */
export interface PluginDatabase {
  role: string;
  transaction<T>(fn: (sql: import("postgres").TransactionSql) => Promise<T>): Promise<T>;
}

export interface PluginContext {
  name: string;
  /** plugins.config.<name> from plinth.yaml ({} when absent). */
  config: Record<string, unknown>;
  log: PluginLogger;
  db: PluginDatabase;
  events: PluginEventBus;
}

export type HookResult = void | { reject?: string };
export type HookFn = (payload: Record<string, unknown>) => HookResult | Promise<HookResult>;
export type HookSpec = HookFn | { handler: HookFn; policy?: "continue" | "reject"; timeout?: number };

export interface Plugin {
  name: string;
  version: string;
  /** Names of plugins that must be initialised and started before this one. */
  dependsOn?: string[];
  init?(ctx: PluginContext): void | Promise<void>;
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
  hooks?: Partial<Record<PluginEvent, HookSpec>>;
  /** Mounted under /plugins/v1/<name>/ (an Elysia instance, or a fetch-style handler). */
  routes?: AnyElysia | ((req: Request) => Response | Promise<Response>);
}

/** Thrown by a "before" hook to refuse the action with a message shown to the client. */
export class PluginRefusal extends Error {}
