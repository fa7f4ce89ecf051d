// POST /sql: the SQL console (see sql-console.ts for what it guarantees). The request's signal
// fires when the caller drops the request: the running statement is then cancelled on the server.
import { Elysia } from "elysia";
import { adminRoute, type AdminHttpDeps } from "../../route.ts";
import type { ConsoleDb } from "../console-login.ts";
import { SqlInput } from "../model.ts";
import { runSql } from "../sql-console.ts";
import { RAW_BODY, parseInput } from "./input.ts";

export const sqlRoutes = (deps: AdminHttpDeps, consoleDb: ConsoleDb) =>
  new Elysia().post(
    "/sql",
    adminRoute(deps, { action: "sql.run", capability: "sql:run" }, async (c) => runSql(consoleDb, parseInput(SqlInput, c.body), c.audit, c.request.signal)),
    RAW_BODY,
  );
