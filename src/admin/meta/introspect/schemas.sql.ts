// Schemas, as the admin sees them: the catalog's answer as it is (src/catalog/schemas.sql.ts).
export { listSchemas, SYSTEM_SCHEMAS, type SchemaInfo } from "../../../catalog/schemas.sql.ts";
