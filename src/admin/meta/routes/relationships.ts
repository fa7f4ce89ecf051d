// POST /relationships: foreign keys and junction tables the REST API can embed across.
import { Elysia } from "elysia";
import { adminRoute, created, type AdminHttpDeps } from "../../route.ts";
import { RelationshipInput } from "../model.ts";
import { createRelationship } from "../relationships.ts";
import { RAW_BODY, parseInput } from "./input.ts";

export const relationshipRoutes = (deps: AdminHttpDeps) =>
  new Elysia().post(
    "/relationships",
    adminRoute(deps, { action: "relationships.create", capability: "meta:write" }, async (c) => {
      const input = parseInput(RelationshipInput, c.body);
      c.audit.target = `${input.from} -> ${input.to}`;
      return created({ created: await createRelationship(deps.sql, c.audit, input) });
    }),
    RAW_BODY,
  );
