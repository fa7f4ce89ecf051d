// Kept for the features that still import their Service types from here; the types live in
// service.ts and the assembly in app.ts.
export type { AnyElysia, Service, ServiceContext } from "./service.ts";
