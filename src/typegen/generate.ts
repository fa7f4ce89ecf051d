// Generating client types: which schemas (validated against the catalog), then the model and the
// renderer. One entry point for `plinth gen types typescript` and GET /admin/v1/types/typescript.
import { listSchemas } from "../catalog/index.ts";
import type { Sql } from "../db/pool.ts";
import { PlinthError } from "../errors.ts";
import { loadTsModel } from "./model.ts";
import { renderTypeScript } from "./typescript.ts";

export class TypegenError extends PlinthError {
  constructor(message: string) {
    super(400, "invalid_schemas", message);
    this.name = "TypegenError";
  }
}

/** "public,api" → ["public", "api"]: trimmed, deduplicated, each an existing schema. */
export async function resolveSchemas(sql: Sql, list: string | undefined, fallback: readonly string[]): Promise<string[]> {
  const wanted = list === undefined ? [...fallback] : [...new Set(list.split(",").map((s) => s.trim()))];
  if (!wanted.length || wanted.some((s) => s === "")) throw new TypegenError("--schema takes a comma-separated list of schema names");
  if (wanted.length > 100) throw new TypegenError("at most 100 schemas");
  const known = new Set((await listSchemas(sql)).map((s) => s.name));
  const unknown = wanted.filter((s) => !known.has(s));
  if (unknown.length) throw new TypegenError(`unknown schema${unknown.length > 1 ? "s" : ""}: ${unknown.map((s) => JSON.stringify(s)).join(", ")}`);
  return wanted;
}

export async function generateTypeScript(sql: Sql, schemas: string[]): Promise<string> {
  return renderTypeScript(await loadTsModel(sql, schemas));
}
