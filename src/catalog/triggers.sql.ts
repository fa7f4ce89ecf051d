// The triggers of one table (PostgreSQL's internal ones, such as foreign-key triggers, left out).
import type { Queryable } from "./queryable.ts";

export interface TriggerInfo {
  name: string;
  timing: "before" | "after" | "instead of";
  events: string[];
  level: "row" | "statement";
  function: string;
  enabled: boolean;
}

// tgtype bits (pg_trigger.h): 1 row, 2 before, 4 insert, 8 delete, 16 update, 32 truncate, 64 instead.
export const listTriggers = (sql: Queryable, relid: number) => sql<TriggerInfo[]>`
  select t.tgname as name,
         case when t.tgtype & 2 <> 0 then 'before' when t.tgtype & 64 <> 0 then 'instead of' else 'after' end as timing,
         array_remove(array[
           case when t.tgtype & 4 <> 0 then 'insert' end, case when t.tgtype & 16 <> 0 then 'update' end,
           case when t.tgtype & 8 <> 0 then 'delete' end, case when t.tgtype & 32 <> 0 then 'truncate' end
         ], null)::text[] as events,
         case when t.tgtype & 1 <> 0 then 'row' else 'statement' end as level,
         t.tgfoid::regproc::text as function,
         t.tgenabled <> 'D' as enabled
  from pg_trigger t
  where t.tgrelid = ${relid}::oid and not t.tgisinternal
  order by t.tgname`;
