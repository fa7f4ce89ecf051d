// Presence as Phoenix.Presence shapes it for realtime-js: per topic, presences grouped by key, each
// with metas [{phx_ref, ...tracked payload}]. presence_state is the full map; presence_diff is
// {joins, leaves} in the same shape. Entries tracked on other nodes are kept here too (tagged with
// their node), so a join on any node sees everyone.
import { randomBytes } from "node:crypto";

export interface PresenceEntry {
  key: string;
  ref: string;
  /** The tracked payload as a JSON object text, without phx_ref. */
  meta: string;
  node: string;
}

export const newPresenceRef = (): string => randomBytes(9).toString("base64url");

/** `{"phx_ref":…, …meta}` */
function metaWithRef(e: PresenceEntry): string {
  const ref = `"phx_ref":${JSON.stringify(e.ref)}`;
  return e.meta === "{}" || e.meta.length < 2 ? `{${ref}}` : `{${ref},${e.meta.slice(1)}`;
}

/** {key: {metas: [...]}} for a list of entries. */
export function groupJson(entries: Iterable<PresenceEntry>): string {
  const byKey = new Map<string, string[]>();
  for (const e of entries) {
    let metas = byKey.get(e.key);
    if (!metas) byKey.set(e.key, (metas = []));
    metas.push(metaWithRef(e));
  }
  return `{${[...byKey].map(([k, metas]) => `${JSON.stringify(k)}:{"metas":[${metas.join(",")}]}`).join(",")}}`;
}

export const diffJson = (joins: PresenceEntry[], leaves: PresenceEntry[]): string => `{"joins":${groupJson(joins)},"leaves":${groupJson(leaves)}}`;

export class PresenceStore {
  private readonly topics = new Map<string, Map<string, PresenceEntry>>();

  /** Adds (or replaces, by ref) an entry. */
  join(topic: string, e: PresenceEntry): void {
    let t = this.topics.get(topic);
    if (!t) this.topics.set(topic, (t = new Map()));
    t.set(e.ref, e);
  }

  leave(topic: string, ref: string): PresenceEntry | undefined {
    const t = this.topics.get(topic);
    const e = t?.get(ref);
    if (!t || !e) return undefined;
    t.delete(ref);
    if (t.size === 0) this.topics.delete(topic);
    return e;
  }

  has(topic: string, ref: string): boolean {
    return this.topics.get(topic)?.has(ref) ?? false;
  }

  stateJson(topic: string): string {
    return groupJson(this.topics.get(topic)?.values() ?? []);
  }

  /** Removes everything a node owned; returns what left, by topic. */
  dropNode(node: string): Map<string, PresenceEntry[]> {
    const out = new Map<string, PresenceEntry[]>();
    for (const [topic, t] of this.topics) {
      for (const [ref, e] of t) {
        if (e.node !== node) continue;
        t.delete(ref);
        let list = out.get(topic);
        if (!list) out.set(topic, (list = []));
        list.push(e);
      }
      if (t.size === 0) this.topics.delete(topic);
    }
    return out;
  }

  /** Every entry a node owns, as [topic, key, ref, meta] rows (the snapshot sent to a new peer). */
  entriesOf(node: string): Array<[string, string, string, string]> {
    const out: Array<[string, string, string, string]> = [];
    for (const [topic, t] of this.topics) for (const e of t.values()) if (e.node === node) out.push([topic, e.key, e.ref, e.meta]);
    return out;
  }
}
