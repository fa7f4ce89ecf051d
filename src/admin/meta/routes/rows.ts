// /tables/{schema}/{name}/rows: a table's rows for the console (rows.ts; the query grammar and the
// key encoding are described in rows-query.ts). Each route checks its capability on the table
// first (authorizeTable: 403 table_not_assigned for a table outside a moderator's or viewer's
// assignment, whether or not it exists), then parses, then makes one service call.
//
//   GET    …/rows?limit&offset&order&filter…  → {rows, total, total_exact, limit, offset, columns, primary_key}
//   GET    …/rows/{pk}                        → the row
//   POST   …/rows          body: the row      → 201, the row as stored
//   PATCH  …/rows/{pk}     body: changes      → the row as stored
//   DELETE …/rows/{pk}                        → the deleted row
//   DELETE …/rows?filter…  body: {"confirm": true} beyond one row → {deleted}
import { Elysia } from "elysia";
import { authorizeTable } from "../../authorize.ts";
import { adminRoute, created, type AdminCall, type AdminHttpDeps } from "../../route.ts";
import { checkName } from "../ident.ts";
import { deleteMany, deleteOne, getRow, insertOne, listRows, updateOne } from "../rows.ts";
import { checkParameters, parseConfirm, parseFilters, parsePageQuery, parseRowBody } from "../rows-query.ts";
import { RAW_BODY } from "./input.ts";

const ROWS = "/tables/:schema/:name/rows";
const ROW = "/tables/:schema/:name/rows/:pk";

/** The table named by the path, once the caller may reach it with `capability`. */
function tableOf(c: AdminCall, capability: "rows:read" | "rows:write"): { schema: string; name: string } {
  const schema = checkName(c.params.schema!, "schema");
  const name = checkName(c.params.name!, "table");
  authorizeTable(c.actor, capability, schema, name);
  return { schema, name };
}

const searchParams = (c: AdminCall) => new URL(c.request.url).searchParams;

export const rowRoutes = (deps: AdminHttpDeps) =>
  new Elysia()
    .get(
      ROWS,
      adminRoute(deps, { action: "rows.list", capability: "rows:read" }, async (c) => {
        const { schema, name } = tableOf(c, "rows:read");
        return listRows(deps.sql, c.audit, schema, name, parsePageQuery(searchParams(c)));
      }),
    )
    .get(
      ROW,
      adminRoute(deps, { action: "rows.get", capability: "rows:read" }, async (c) => {
        const { schema, name } = tableOf(c, "rows:read");
        checkParameters(searchParams(c), []);
        return getRow(deps.sql, c.audit, schema, name, c.params.pk!);
      }),
    )
    .post(
      ROWS,
      adminRoute(deps, { action: "rows.insert", capability: "rows:write" }, async (c) => {
        const { schema, name } = tableOf(c, "rows:write");
        checkParameters(searchParams(c), []);
        return created(await insertOne(deps.sql, c.audit, schema, name, parseRowBody(c.body)));
      }),
      RAW_BODY,
    )
    .patch(
      ROW,
      adminRoute(deps, { action: "rows.update", capability: "rows:write" }, async (c) => {
        const { schema, name } = tableOf(c, "rows:write");
        checkParameters(searchParams(c), []);
        return updateOne(deps.sql, c.audit, schema, name, c.params.pk!, parseRowBody(c.body));
      }),
      RAW_BODY,
    )
    .delete(
      ROW,
      adminRoute(deps, { action: "rows.delete", capability: "rows:write" }, async (c) => {
        const { schema, name } = tableOf(c, "rows:write");
        checkParameters(searchParams(c), []);
        return deleteOne(deps.sql, c.audit, schema, name, c.params.pk!);
      }),
    )
    .delete(
      ROWS,
      adminRoute(deps, { action: "rows.delete_many", capability: "rows:write" }, async (c) => {
        const { schema, name } = tableOf(c, "rows:write");
        const params = searchParams(c);
        checkParameters(params, ["filter"]);
        return deleteMany(deps.sql, c.audit, schema, name, parseFilters(params.getAll("filter")), parseConfirm(c.body));
      }),
      RAW_BODY,
    );
