// The security background work of one node, started and stopped with the admin service: delivering
// queued alerts (alerts.ts) every security.alerts.pollInterval seconds — first right at start, so
// alerts left by a node that stopped or crashed go out — and, once a minute, dropping lockout rows
// with nothing left to say (src/auth/lockout.ts). stop() waits for a delivery in flight; rows it
// could not finish stay claimed until their lease passes and are retried by whichever node is up.
import type { Config } from "../../config/schema.ts";
import type { Sql } from "../../db/pool.ts";
import { createMailer, type Mailer } from "../../delivery/index.ts";
import type { Logger } from "../../log.ts";
import { sweepLocks } from "../../auth/lockout.ts";
import { deliverDue, syncAlertTargets, type AlertDeps } from "./alerts.ts";

const SWEEP_EVERY_MS = 60_000;

export interface SecurityWorker {
  /** One delivery round now (tests, and the loop itself). */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSecurityWorker(opts: { sql: Sql; config: Config; log: Logger; mailer?: Mailer | null }): Promise<SecurityWorker> {
  const { sql, config, log } = opts;
  await syncAlertTargets(sql, config);
  let mailer: Mailer | null = null;
  if (opts.mailer !== undefined) mailer = opts.mailer;
  else if (config.security.alerts.email) {
    try {
      mailer = createMailer(config);
    } catch (err) {
      log.error("security alerts: no mailer", { error: err });
    }
  }
  const deps: AlertDeps = { sql, config, log, mailer };
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<number> | null = null;
  let lastSweep = 0;

  const runOnce = (): Promise<number> => {
    if (running) return running;
    running = (async () => {
      try {
        if (Date.now() - lastSweep >= SWEEP_EVERY_MS) {
          lastSweep = Date.now();
          await sweepLocks(sql);
        }
        return await deliverDue(deps);
      } catch (err) {
        if (!stopped) log.warn("security alerts: delivery round failed", { error: (err as Error).message });
        return 0;
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const loop = async () => {
    timer = null;
    if (stopped) return;
    await runOnce();
    if (!stopped) {
      timer = setTimeout(loop, config.security.alerts.pollInterval * 1000);
      timer.unref?.();
    }
  };
  void loop();

  return {
    runOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
