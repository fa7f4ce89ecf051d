// Row level security policies, as the admin sees them: the catalog's answer as it is.
export { listPolicies, type PolicyInfo } from "../../../catalog/policies.sql.ts";
