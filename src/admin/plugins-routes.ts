// GET /admin/v1/plugins (stats:read): the loaded plugins for the console's plugins section — name,
// version, lifecycle state, each hook with its policy and timeout, calls and failures, and whether
// the plugin mounts routes (under /plugins/v1/<name>/). Read from the plugin service the app
// mounted; an empty list when no plugin is loaded.
import { Elysia } from "elysia";
import type { PluginService } from "../plugins/service.ts";
import type { MountedApp } from "../service.ts";
import { adminRoute, type AdminHttpDeps } from "./route.ts";

export function listPlugins(app: MountedApp | null) {
  const svc = app?.services.find((s) => s.name === "plugins") as PluginService | undefined;
  if (!svc) return { plugins: [], data_change: null };
  const timeout = (spec: unknown) => (typeof spec === "object" && spec && "timeout" in spec ? (spec as { timeout?: number }).timeout : undefined);
  return {
    plugins: svc.host.plugins.map((l) => ({
      name: l.plugin.name,
      version: l.plugin.version,
      state: l.state,
      depends_on: l.plugin.dependsOn ?? [],
      hooks: Object.entries(l.plugin.hooks ?? {}).map(([event, spec]) => ({
        event,
        policy: typeof spec === "function" ? "continue" : (spec?.policy ?? "continue"),
        timeout_ms: timeout(spec) ?? null,
      })),
      hook_calls: l.hookCalls,
      hook_failures: l.hookFailures,
      routes: l.plugin.routes ? `/plugins/v1/${l.plugin.name}/` : null,
    })),
    data_change: svc.dataChanges ? { delivered: svc.dataChanges.delivered, dropped: svc.dataChanges.dropped, backlog: svc.dataChanges.backlog } : null,
  };
}

export const pluginRoutes = (deps: AdminHttpDeps, app: () => MountedApp | null) =>
  new Elysia().get(
    "/plugins",
    adminRoute(deps, { action: "plugins.read", capability: "stats:read" }, async () => listPlugins(app())),
  );
