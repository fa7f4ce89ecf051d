// Which plugin host a service's context (auth's, storage's, realtime's hub) reports to: kept beside
// the context (set once by the app when it assembles the services) so the flows reach plugins
// without importing the app. Nothing is attached when no plugin is loaded, so pluginsOf() is
// undefined and an emit point costs one WeakMap lookup.
import type { PluginHost } from "./host.ts";

const hosts = new WeakMap<object, PluginHost>();

export function attachPlugins(authContext: object, host: PluginHost): void {
  if (host.plugins.length) hosts.set(authContext, host);
}

export function pluginsOf(authContext: object): PluginHost | undefined {
  return hosts.get(authContext);
}
