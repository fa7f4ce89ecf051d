// The Phoenix channel wire format as realtime-js speaks it (lib/serializer.ts and phoenix's own
// serializer), both versions:
// - vsn 1.0.0: text frames holding JSON objects {topic, event, payload, ref, join_ref}.
// - vsn 2.0.0: text frames holding JSON arrays [join_ref, ref, topic, event, payload], plus binary
//   frames for user broadcasts: kind 3 (client → server, "userBroadcastPush") and kind 4
//   (server → client, "userBroadcast").
// Pure functions only: decoding never throws, it returns null for anything malformed.

export type Vsn = "1.0.0" | "2.0.0";

export const parseVsn = (v: string | null): Vsn | null => (v === null || v === "" || v === "1.0.0" ? "1.0.0" : v === "2.0.0" ? "2.0.0" : null);

/** A decoded client frame. `payload` is parsed JSON (an object for every event a client sends). */
export interface Frame {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: Record<string, unknown>;
}

/** A user broadcast as it travels inside Plinth, whatever frame or API it came from. */
export interface UserBroadcast {
  event: string;
  /** json: `body` is UTF-8 JSON text of the user payload; binary: opaque bytes. */
  encoding: "json" | "binary";
  body: Uint8Array;
  /** JSON object text, or null (the client reads `meta` from it when present). */
  meta: string | null;
}

/** A vsn 2 kind-3 frame: a user broadcast pushed by the client on a joined channel. */
export interface BroadcastPush {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  broadcast: UserBroadcast;
}

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;

const refOf = (v: unknown): string | null | undefined =>
  v === null || v === undefined ? null : typeof v === "string" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function frameOf(joinRef: unknown, ref: unknown, topic: unknown, event: unknown, payload: unknown): Frame | null {
  const j = refOf(joinRef);
  const r = refOf(ref);
  if (j === undefined || r === undefined || typeof topic !== "string" || typeof event !== "string") return null;
  if (payload === undefined || payload === null) payload = {};
  if (!isObject(payload)) return null;
  return { joinRef: j, ref: r, topic, event, payload };
}

export function decodeText(vsn: Vsn, text: string): Frame | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (vsn === "2.0.0") {
    if (!Array.isArray(parsed) || parsed.length < 5) return null;
    return frameOf(parsed[0], parsed[1], parsed[2], parsed[3], parsed[4]);
  }
  if (!isObject(parsed)) return null;
  return frameOf(parsed.join_ref, parsed.ref, parsed.topic, parsed.event, parsed.payload);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Decodes a vsn 2 binary frame; only kind 3 (user broadcast push) is valid from a client. */
export function decodeBinary(bytes: Uint8Array): BroadcastPush | null {
  if (bytes.length < 7 || bytes[0] !== KIND_USER_BROADCAST_PUSH) return null;
  const [joinRefLen, refLen, topicLen, eventLen, metaLen, enc] = [bytes[1]!, bytes[2]!, bytes[3]!, bytes[4]!, bytes[5]!, bytes[6]!];
  if (enc !== 0 && enc !== 1) return null;
  let at = 7;
  const take = (n: number): string | null => {
    if (at + n > bytes.length) return null;
    try {
      const s = utf8.decode(bytes.subarray(at, at + n));
      at += n;
      return s;
    } catch {
      return null;
    }
  };
  const joinRef = take(joinRefLen);
  const ref = take(refLen);
  const topic = take(topicLen);
  const event = take(eventLen);
  const meta = take(metaLen);
  if (joinRef === null || ref === null || topic === null || event === null || meta === null) return null;
  const body = bytes.slice(at);
  if (enc === 1) {
    try {
      JSON.parse(utf8.decode(body));
    } catch {
      return null;
    }
  }
  if (meta !== "") {
    try {
      if (!isObject(JSON.parse(meta))) return null;
    } catch {
      return null;
    }
  }
  return {
    joinRef: joinRef || null,
    ref: ref || null,
    topic,
    broadcast: { event, encoding: enc === 1 ? "json" : "binary", body, meta: meta || null },
  };
}

/**
 * Encodes a server frame whose payload is already JSON text (so fan-out serialises a payload once
 * and only wraps it per subscriber).
 */
export function encodeFrame(vsn: Vsn, joinRef: string | null, ref: string | null, topic: string, event: string, payloadJson: string): string {
  const j = joinRef === null ? "null" : JSON.stringify(joinRef);
  const r = ref === null ? "null" : JSON.stringify(ref);
  if (vsn === "2.0.0") return `[${j},${r},${JSON.stringify(topic)},${JSON.stringify(event)},${payloadJson}]`;
  return `{"topic":${JSON.stringify(topic)},"event":${JSON.stringify(event)},"payload":${payloadJson},"ref":${r},"join_ref":${j}}`;
}

/** A reply to a client push: phx_reply {status, response}. */
export function encodeReply(vsn: Vsn, joinRef: string | null, ref: string | null, topic: string, status: "ok" | "error", response: unknown = {}): string {
  return encodeFrame(vsn, joinRef, ref, topic, "phx_reply", JSON.stringify({ status, response }));
}

/** Byte length of a string as UTF-8 (the wire limit of every binary header field is 255). */
export const byteLength = (s: string): number => Buffer.byteLength(s, "utf8");

/**
 * A kind-4 frame (server → vsn 2 client). Returns null when a header field exceeds 255 bytes; the
 * caller then falls back to a text frame.
 */
export function encodeUserBroadcast(topic: string, b: UserBroadcast): Uint8Array | null {
  const t = encoder.encode(topic);
  const e = encoder.encode(b.event);
  const m = b.meta ? encoder.encode(b.meta) : new Uint8Array(0);
  if (t.length > 255 || e.length > 255 || m.length > 255) return null;
  const out = new Uint8Array(5 + t.length + e.length + m.length + b.body.length);
  out[0] = KIND_USER_BROADCAST;
  out[1] = t.length;
  out[2] = e.length;
  out[3] = m.length;
  out[4] = b.encoding === "json" ? 1 : 0;
  let at = 5;
  out.set(t, at);
  at += t.length;
  out.set(e, at);
  at += e.length;
  out.set(m, at);
  at += m.length;
  out.set(b.body, at);
  return out;
}

/**
 * The JSON payload a text-frame client gets for a user broadcast: {type, event, payload[, meta]}.
 * Null for binary bodies, which JSON cannot carry (vsn 1 clients do not receive them, as on Supabase).
 */
export function userBroadcastJson(b: UserBroadcast): string | null {
  if (b.encoding !== "json") return null;
  const body = Buffer.from(b.body.buffer, b.body.byteOffset, b.body.byteLength).toString("utf8");
  const meta = b.meta ? `,"meta":${b.meta}` : "";
  return `{"type":"broadcast","event":${JSON.stringify(b.event)},"payload":${body}${meta}}`;
}

export const jsonBody = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value ?? null));
