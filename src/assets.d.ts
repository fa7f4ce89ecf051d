// Text and file assets embedded by Bun's `with { type: ... }` imports.
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.tgz" {
  const path: string;
  export default path;
}
