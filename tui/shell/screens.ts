// The console's screens: the names `:` accepts, what each needs (a capability from the server's
// own list, src/admin/authorize.ts), and its component. Detail screens (a table's rows, a table's
// structure, a user) open from their list and are not in the `:` list. No screen imports another:
// they open each other by name through the nav context.
import type { ComponentType } from "react";
import { Account } from "../screens/Account.tsx";
import { Admins } from "../screens/Admins.tsx";
import { Audit } from "../screens/Audit.tsx";
import { Backups } from "../screens/Backups.tsx";
import { Keys } from "../screens/Keys.tsx";
import { Logs } from "../screens/Logs.tsx";
import { Migrations } from "../screens/Migrations.tsx";
import { Overview } from "../screens/Overview.tsx";
import { Plugins } from "../screens/Plugins.tsx";
import { Policies } from "../screens/Policies.tsx";
import { Security } from "../screens/Security.tsx";
import { Sessions } from "../screens/Sessions.tsx";
import { Simulator } from "../screens/Simulator.tsx";
import { Sql } from "../screens/Sql.tsx";
import { TableEditor } from "../screens/TableEditor.tsx";
import { TableRows } from "../screens/TableRows.tsx";
import { TableSecurity } from "../screens/TableSecurity.tsx";
import { Tables } from "../screens/Tables.tsx";
import { UserDetail } from "../screens/UserDetail.tsx";
import { Users } from "../screens/Users.tsx";

export interface ScreenProps {
  width: number;
  height: number;
  params: Record<string, string>;
}

export interface ScreenDef {
  name: string;
  title: string;
  /** A capability the signed-in identity must hold ("signed_in": any admin). */
  needs: string;
  component: ComponentType<ScreenProps>;
  /** Reached with `:name` (a top screen) or only from another screen. */
  top: boolean;
}

export const SCREENS: ScreenDef[] = [
  { name: "overview", title: "Overview", needs: "stats:read", component: Overview, top: true },
  { name: "tables", title: "Tables", needs: "meta:read", component: Tables, top: true },
  { name: "sql", title: "SQL", needs: "sql:run", component: Sql, top: true },
  { name: "users", title: "Users", needs: "users:read", component: Users, top: true },
  { name: "admins", title: "Admins", needs: "admins:manage", component: Admins, top: true },
  { name: "sessions", title: "Sessions", needs: "signed_in", component: Sessions, top: true },
  { name: "security", title: "Security", needs: "security:read", component: Security, top: true },
  { name: "keys", title: "Keys", needs: "security:read", component: Keys, top: true },
  { name: "audit", title: "Audit", needs: "audit:read_own", component: Audit, top: true },
  { name: "policies", title: "Policies", needs: "meta:read", component: Policies, top: true },
  { name: "migrations", title: "Migrations", needs: "meta:read", component: Migrations, top: true },
  { name: "logs", title: "Logs", needs: "logs:read", component: Logs, top: true },
  { name: "plugins", title: "Plugins", needs: "stats:read", component: Plugins, top: true },
  { name: "backups", title: "Backups", needs: "backups:manage", component: Backups, top: true },
  { name: "account", title: "Account", needs: "signed_in", component: Account, top: true },
  { name: "rows", title: "Rows", needs: "rows:read", component: TableRows, top: false },
  { name: "table", title: "Table", needs: "meta:read", component: TableEditor, top: false },
  { name: "user", title: "User", needs: "users:read", component: UserDetail, top: false },
  { name: "tablesecurity", title: "Table security", needs: "meta:read", component: TableSecurity, top: false },
  { name: "simulate", title: "Policy simulator", needs: "security:manage", component: Simulator, top: false },
];

export const screenNamed = (name: string): ScreenDef | undefined => SCREENS.find((s) => s.name === name);

/** The `:` names this identity may open, in menu order. */
export const topScreens = (can: (c: string) => boolean): ScreenDef[] => SCREENS.filter((s) => s.top && can(s.needs));

/** Completion of a `:` command: the screen names starting with what was typed. */
export function completeCommand(typed: string, names: string[]): string[] {
  const t = typed.trim().toLowerCase();
  return names.filter((n) => n.startsWith(t));
}
