// Who is signed in, to which server: the signed-in client and the capabilities the server answered
// (screens appear by these; the server checks them again on every call). Signing out ends the
// admin session on the server (a service key has none to end).
import { createContext, useContext, type ReactNode } from "react";
import type { AdminClient } from "../api/client.ts";
import type { Whoami } from "../api/types.ts";
import type { ConsoleStore } from "../lib/config-store.ts";

export interface Session {
  client: AdminClient;
  who: Whoami;
  store: ConsoleStore;
  can(capability: string): boolean;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ client, who, store, children }: { client: AdminClient; who: Whoami; store: ConsoleStore; children: ReactNode }) {
  const caps = new Set(who.capabilities);
  return <SessionContext.Provider value={{ client, who, store, can: (c) => c === "signed_in" || caps.has(c) }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionProvider");
  return s;
}

/** A short label for the signed-in identity: "ada@example.com (admin)", "service key". */
export function identityLabel(who: Whoami): string {
  if (who.admin) return `${who.admin.email ?? who.admin.id} (${who.admin.level})`;
  if (who.emergency) return "emergency access (system_admin)";
  if (who.kind === "service_key") return "service_role key";
  return who.kind;
}
