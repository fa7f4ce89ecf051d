// One websocket: decodes frames with the socket's serializer, answers heartbeats, routes joins and
// channel pushes, and sends with a bounded buffer. A client that sends something that is not a
// Phoenix frame is disconnected (1003): realtime-js never does, so it is a broken or hostile peer.
import type { Logger } from "../log.ts";
import { joinChannel, type Channel } from "./channel.ts";
import type { RealtimeHub, RealtimeSocket } from "./hub.ts";
import { decodeBinary, decodeText, encodeReply, type Frame, type Vsn } from "./protocol.ts";
import { connectionAuth, type ChannelAuth } from "./tokens.ts";

export class Connection {
  readonly vsn: Vsn;
  readonly auth: ChannelAuth;
  readonly channels = new Map<string, Channel>();
  closed = false;

  constructor(
    readonly hub: RealtimeHub,
    readonly ws: RealtimeSocket,
  ) {
    this.vsn = ws.data.vsn;
    this.auth = connectionAuth(ws.data.principal);
  }

  get log(): Logger {
    return this.hub.log;
  }

  /**
   * Sends one frame. Bun drops the frame and closes the socket once its buffer passes the
   * configured limit (closeOnBackpressureLimit); the check here covers the moment in between.
   */
  send(data: string | Uint8Array): void {
    if (this.closed) return;
    const status = this.ws.send(data);
    if (status === 0 || this.ws.getBufferedAmount() > this.hub.config.realtime.maxSocketBuffer) {
      this.log.warn("realtime: closing a slow socket", { request_id: this.ws.data.requestId, buffered: this.ws.getBufferedAmount() });
      this.close(1008, "slow consumer: send buffer full");
    }
  }

  reply(f: { joinRef: string | null; ref: string | null; topic: string }, status: "ok" | "error", response: unknown = {}): void {
    this.send(encodeReply(this.vsn, f.joinRef, f.ref, f.topic, status, response));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.close(code, reason);
    this.onClose();
  }

  /** The socket is gone (closed by either side): leave every channel without telling the client. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ch of [...this.channels.values()]) ch.close(false);
    this.hub.connections.delete(this);
  }

  onMessage(raw: string | Buffer): void {
    if (typeof raw === "string") {
      const frame = decodeText(this.vsn, raw);
      if (!frame) return this.close(1003, "invalid frame");
      return this.onFrame(frame);
    }
    if (this.vsn !== "2.0.0") return this.close(1003, "binary frames need vsn 2.0.0");
    const push = decodeBinary(raw);
    if (!push) return this.close(1003, "invalid binary frame");
    const ch = this.channels.get(push.topic);
    if (!ch || (push.joinRef !== null && push.joinRef !== ch.joinRef)) {
      if (push.ref !== null) this.reply({ joinRef: push.joinRef, ref: push.ref, topic: push.topic }, "error", { reason: "unmatched topic" });
      return;
    }
    ch.onBroadcast(push.broadcast, push.ref);
  }

  private onFrame(f: Frame): void {
    if (f.topic === "phoenix") {
      if (f.event === "heartbeat") this.reply(f, "ok");
      return;
    }
    if (f.event === "phx_join") {
      joinChannel(this, f).catch((err) => {
        this.log.error("realtime: join failed", { error: err });
        this.reply(f, "error", { reason: "UnknownErrorOnChannel: Unknown Error on Channel" });
      });
      return;
    }
    const ch = this.channels.get(f.topic);
    if (!ch) {
      if (f.ref !== null) this.reply(f, "error", { reason: "unmatched topic" });
      return;
    }
    // A push for an earlier incarnation of the channel (the client rejoined since): drop it.
    if (f.joinRef !== null && f.joinRef !== ch.joinRef) return;
    ch.onPush(f);
  }
}
