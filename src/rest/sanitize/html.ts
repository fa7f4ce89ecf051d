// The sanitiser lives in src/lib/sanitize/. This re-export only keeps test/rest.advanced.test.ts
// importing from its old path; delete it once that import points at src/lib/sanitize/html.ts.
export { sanitizeHtml } from "../../lib/sanitize/html.ts";
